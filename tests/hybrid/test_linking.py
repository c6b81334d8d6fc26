"""Link sources and the Memory integration: link, sequence/entity links, multi-hop search, sync, persistence, deletion."""

from __future__ import annotations

import pytest

from hybrid import Memory
from hybrid.associative import ASSOC_FILE, AssociativeConfig
from hybrid.errors import InvalidInputError, NotFoundError
from hybrid.linking import LinkConfig, extract_terms, order_pairs

#: Small code layer so the tests stay fast.
SMALL = AssociativeConfig(code_dim=1024, k=8)
NO_AUTO = LinkConfig(order=True, entities=False)
K = 5
#: Association strength of a direct, uncontested link.
MIN_LINK_STRENGTH = 0.99

FACTS = [
    "The spare key is under the blue flower pot.",
    "Quarterly tax forms are due on the fifteenth.",
    "The cat's vet appointment moved to Thursday morning.",
    "Grandma's lasagna recipe uses three cheeses.",
    "The router password is written on the fridge.",
    "Bicycle tyres need air every two weeks.",
]


def open_mem(path, enc, **kw):
    kw.setdefault("associative", SMALL)
    kw.setdefault("links", NO_AUTO)
    return Memory.open(path, encoder=enc, device="cpu", **kw)


def test_order_pairs_link_neighbours_both_ways():
    assert order_pairs([4, 7, 9]) == [(4, 7), (7, 4), (7, 9), (9, 7)]
    assert order_pairs([3]) == []


def test_extract_terms_finds_names_numbers_and_keyphrases():
    terms = extract_terms("Last May, Jon Snow adopted two puppies in Seattle for 300 dollars.")
    assert {"e:jon snow", "e:seattle", "n:300", "k:puppy"} <= terms, terms
    assert not any(t.startswith("e:last") for t in terms), "a sentence-initial word is not a name"


def test_link_config_rejects_bad_values():
    with pytest.raises(InvalidInputError, match="max_df"):
        LinkConfig(max_df=0)


def test_hops_rank_memory_reachable_only_by_association(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        mem.link(ids[0], ids[3])
        q = FACTS[0]
        flat = mem.dense_search(q, 2)[1][0].tolist()
        assert ids[3] not in flat, "precondition: not a direct hit"
        res = mem.search(q, 2, hops=1)
        by_id = {r.id: r for r in res}
        assert ids[3] in by_id, f"the associated memory must be ranked with hops=1: {res}"
        assert by_id[ids[3]].hop == 1 and by_id[ids[3]].path == [ids[0], ids[3]]
        assert by_id[ids[0]].hop == 0
        scores, got = mem.search_ids([q, FACTS[1]], 2, hops=1)
        assert scores.shape == got.shape == (2, 2)


def test_hops_zero_is_unchanged(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        mem.link(ids[0], ids[3])
        a = mem.search_ids(FACTS[0], K)
        b = mem.search_ids(FACTS[0], K, hops=0)
        assert (a[1] == b[1]).all()
        with pytest.raises(InvalidInputError, match="hops"):
            mem.search(FACTS[0], K, hops=-1)


def test_recall_chain(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        for a, b in zip(ids, ids[1:]):
            mem.link(a, b)
        chain = mem.recall_chain(FACTS[0], hops=5)
        assert [r.id for r in chain] == ids
        assert [r.hop for r in chain] == list(range(6))
        assert all(r.score >= MIN_LINK_STRENGTH for r in chain[1:]), [r.score for r in chain]


def test_link_unknown_memory_is_an_error_and_writes_nothing(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS[:2])
        with pytest.raises(NotFoundError, match="999"):
            mem.link([ids[0], ids[1]], [ids[1], 999])
        assert mem.associations.index.n_edges == 0
        with pytest.raises(InvalidInputError, match="memory ids"):
            mem.link("a", ids[0])


def test_delete_removes_associations(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        mem.link(ids[0], ids[3])
        mem.link(ids[1], ids[2])
        assert mem.associations.index.n_edges == 2
        mem.delete(ids[3])
        assert mem.associations.index.edges() == [(ids[1], ids[2])]
        assert mem.store.query("SELECT COUNT(*) FROM assoc_links")[0][0] == 1
        assert ids[3] not in [r.id for r in mem.search(FACTS[0], K, hops=2)]


def test_associations_persist_across_reopen(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        mem.link(ids[0], ids[3])
        w = mem.associations.index.w.clone()
    assert (store_path / ASSOC_FILE).is_file(), "closing must write the checkpoint"
    with open_mem(store_path, hash_encoder) as mem:
        idx = mem.associations.index
        assert idx.edges() == [(ids[0], ids[3])]
        assert (idx.w == w).all()
    (store_path / ASSOC_FILE).unlink()
    with open_mem(store_path, hash_encoder) as mem:  # rebuilt from the database alone
        assert (mem.associations.index.w == w).all()


def test_checkpoint_catches_up_with_later_changes(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS)
        mem.link(ids[0], ids[3])
        mem.link(ids[1], ids[2])
    with open_mem(store_path, hash_encoder) as other:  # never touches associations: no checkpoint update
        other.delete(ids[3])
        other.link(ids[4], ids[5])
    with open_mem(store_path, hash_encoder) as mem:
        assert mem.associations.index.edges() == [(ids[1], ids[2]), (ids[4], ids[5])]


def test_other_process_links_are_seen(store_path, hash_encoder):
    a = open_mem(store_path, hash_encoder)
    b = open_mem(store_path, hash_encoder)
    try:
        ids = a.add(FACTS)
        _ = b.associations  # b's index is live before a links
        a.link(ids[0], ids[3])
        res = b.search(FACTS[0], 2, hops=1)
        assert ids[3] in [r.id for r in res], "b must pick up a's link through refresh"
        a.delete(ids[3])
        assert ids[3] not in [r.id for r in b.search(FACTS[0], 2, hops=1)]
    finally:
        a.close()
        b.close()


def test_sequence_ingest_links_neighbours(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        ids = mem.add(FACTS[:3], sequence=True)
        assert mem.associations.index.edges() == sorted(order_pairs(ids))
    with open_mem(store_path / "off", hash_encoder, links=LinkConfig(order=False, entities=False)) as mem:
        mem.add(FACTS[:3], sequence=True)
        assert mem.associations.index.n_edges == 0, "order links must be switchable off"


def test_entity_links_rare_terms_only(store_path, hash_encoder):
    cfg = LinkConfig(order=False, entities=True, max_df=2)
    texts = ["Priya baked bread.", "Priya visited Oslo.", "Tom likes sailing.", "Oslo was cold.", "Priya sings."]
    with open_mem(store_path, hash_encoder, links=cfg) as mem:
        ids = mem.add(texts)
        edges = set(mem.associations.index.edges())
        assert (ids[3], ids[1]) in edges and (ids[1], ids[3]) in edges, "shared rare entity 'Oslo' must link"
        assert (ids[4], ids[0]) not in edges, "'Priya' is held by 3 > max_df memories: no link"
        assert not any(ids[2] in e for e in edges)
    with open_mem(store_path / "off", hash_encoder, links=LinkConfig(entities=False)) as mem:
        mem.add(texts)
        assert mem.associations.index.n_edges == 0


def test_namespace_filter_applies_to_associates(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        a = mem.add(FACTS[:3], namespace="one")
        b = mem.add(FACTS[3:4], namespace="two")
        mem.link(a[0], b[0])
        res = mem.search(FACTS[0], K, hops=1, namespace="one")
        assert b[0] not in [r.id for r in res]


def test_auto_link_for_memories_stored_directly(store_path, hash_encoder):
    with open_mem(store_path, hash_encoder) as mem:
        texts = FACTS[:3]
        ids = mem.store.add(texts, mem.make_keys(texts))
        mem.refresh(force=True)
        mem.auto_link(ids, texts, sequence=True)
        assert mem.associations.index.edges() == sorted(order_pairs(ids))
