"""The recall package: concept extraction, the memory-concept graph in the store, the spread, the pipeline's switches."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from hybrid import Memory
from hybrid.errors import InvalidInputError
from hybrid.recall import IngestConfig, RecallConfig, concepts, config, cues, fuse, spread
from hybrid.recall.concepts import extract_concepts
from hybrid.recall.spread import incidence, specificity, transitions

ATOL = 1e-12


@pytest.mark.parametrize("module", [concepts, config, cues, fuse, spread])
def test_module_examples(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 or module is config, f"{module.__name__} has no example"
    assert failed == 0, f"{failed} example(s) of {module.__name__} failed"


@pytest.mark.parametrize("text, expected", [
    ("Dr. Ruiz fixed my tooth.", {"e:ruiz"}),
    ("Ruiz's clinic is closed.", {"e:ruiz"}),
    ("I saw Ruiz today.", {"e:ruiz"}),
    ("Haymo of Faversham was a friar.", {"e:haymo of faversham"}),
    ("Christopher Nolan directed it.", {"e:christopher nolan", "e:nolan"}),
    ("We met on Elm Street.", {"e:elm street"}),
    ("Melanie: I joined a pottery class!", {"p:pottery class"}),
    ("She moved in May 2023.", {"n:2023", "n:2023-05"}),
    ("It cost 42 dollars, not 7.", {"n:42"}),
])
def test_extract_concepts_hand_written_cases(text, expected):
    got = set(extract_concepts(text))
    assert expected <= got, (text, got)


def test_extract_concepts_leaves_out_speaker_label_generic_heads_and_stop_words():
    got = extract_concepts("Melanie: The weather is nice and I am happy.")
    assert "e:melanie" not in got and not any(c.startswith("e:the") for c in got), got
    assert "e:street" not in extract_concepts("We met on Elm Street.")
    assert len(extract_concepts(" ".join(f"Name{i} Person{i}." for i in range(200)), max_concepts=5)) == 5
    assert any(c.startswith("w:") for c in extract_concepts("pottery glazes", words=True))


def test_specificity_cuts_hubs_and_weights_rare_concepts_higher():
    w = specificity(np.array([1, 2, 10, 60]), 100, max_df=50)
    assert w[0] > w[1] > w[2] > 0 and w[3] == 0


def test_spread_on_a_hand_computed_graph():
    # memories 0 -[c0]- 1 -[c1]- 2 ; memory 3 isolated with c2
    a = incidence([[0], [0, 1], [1], [2]], n_concepts=3, weights=np.ones(3))
    x, c = spread.spread(a, np.array([1.0, 0, 0, 0]), np.zeros(3), steps=1, restart=0.5, query_weight=0.0)
    # step 1: c = [1, 0, 0]; c0 -> memories 0, 1 half each; x = 0.5 * [0.5, 0.5, 0, 0] + 0.5 * p0
    np.testing.assert_allclose(c, [1.0, 0.0, 0.0], atol=ATOL)
    np.testing.assert_allclose(x, [0.75, 0.25, 0.0, 0.0], atol=ATOL)
    x2, _ = spread.spread(transitions(a), np.array([1.0, 0, 0, 0]), np.zeros(3), steps=2, restart=0.5,
                          query_weight=0.0)
    assert x2[2] > 0 and x2[3] == 0, "two steps reach memory 2 through memory 1; memory 3 shares nothing"
    xq, _ = spread.spread(a, np.zeros(4), np.array([0, 0, 1.0]), steps=1, restart=0.5, query_weight=1.0)
    np.testing.assert_allclose(xq, [0, 0, 0, 0.5], atol=ATOL)
    with pytest.raises(InvalidInputError, match="steps"):
        spread.spread(a, np.ones(4), np.zeros(3), steps=0, restart=0.5, query_weight=0.0)


def test_configs_reject_bad_values():
    with pytest.raises(InvalidInputError, match="rrf_k"):
        RecallConfig(rrf_k=-1.0)
    with pytest.raises(InvalidInputError, match="both be 0"):
        RecallConfig(dense_weight=0.0, lexical_weight=0.0)
    with pytest.raises(InvalidInputError, match="no field"):
        RecallConfig().replace(nope=1)
    with pytest.raises(InvalidInputError, match="sequence_field"):
        IngestConfig(sequence_field="")
    assert RecallConfig.dense().dense_only and not RecallConfig().dense_only


FACTS = [
    "Maya's dentist is Dr. Hamid Rostami.",
    "Dr. Hamid Rostami practises at the Elm Street Dental Clinic.",
    "The spare key is under the blue pot.",
    "Oslo is cold in winter.",
]


def test_synapses_are_learned_unlearned_and_seen_by_another_process(store_path, hash_encoder):
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem, \
            Memory.open(store_path, encoder=hash_encoder, device="cpu") as other:
        ids = mem.add(FACTS)
        graph = mem.concept_graph
        assert "e:hamid rostami" in graph.concepts_of(ids[0]) and "e:hamid rostami" in graph.concepts_of(ids[1])
        rows = mem.store.query("SELECT COUNT(*) FROM concept_synapses WHERE concept = 'e:hamid rostami'")
        assert rows[0][0] == 2, "synapses are stored in the database"
        assert "e:hamid rostami" in other.concept_graph.concepts_of(ids[1])
        mem.update(ids[1], text="The clinic on Elm Street moved.")
        mem.delete(ids[3])
        other.refresh()
        assert "e:hamid rostami" not in other.concept_graph.concepts_of(ids[1])
        assert other.concept_graph.concepts_of(ids[3]) == []
        assert mem.store.query("SELECT COUNT(*) FROM concept_synapses WHERE memory_id = ?", (ids[3],))[0][0] == 0
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as again:
        assert "e:hamid rostami" in again.concept_graph.concepts_of(ids[0]), "synapses persist"


def test_links_join_the_graph_and_survive_an_update(hash_memory):
    ids = hash_memory.add(FACTS)
    hash_memory.link(ids[2], ids[3], symmetric=True)
    graph = hash_memory.concept_graph
    assert graph.links()[ids[2]] == (ids[3],)
    hash_memory.update(ids[2], text="The spare key is under the red pot.")
    assert graph.links()[ids[2]] == (ids[3],), "an updated memory keeps its links"
    hash_memory.delete(ids[3])
    assert ids[2] not in graph.links() and ids[3] not in graph.links()


def _topic_encoder(texts):
    """8-d vectors by topic: the dentist fact, the waiting-room fact (orthogonal to it), and
    distractors slightly closer to dentist questions than the waiting-room fact is."""
    out = np.zeros((len(texts), 8), dtype=np.float32)
    for i, t in enumerate(texts):
        if "dentist" in t:
            out[i, 0] = 1.0
        elif "waiting room" in t:
            out[i, 1] = 1.0
        else:
            out[i, 2], out[i, 0] = 1.0, 0.1
    return out


def test_concept_spread_brings_a_memory_that_shares_a_concept(store_path):
    with Memory.open(store_path, encoder=_topic_encoder, dim=8, device="cpu") as mem:
        ids = mem.add(["Maya's dentist is Dr. Hamid Rostami.", "Rostami's waiting room plays jazz."]
                      + [f"Unrelated note number {i} about groceries." for i in range(30)])
        dense_only = RecallConfig(depth=3, nameless_weight=0.0, content_weight=0.0, lexical_weight=0.0,
                                  link_spread=0.0, concept_spread=0.0)
        off = mem.search("Who is Maya's dentist?", k=4, recall=dense_only)
        assert ids[1] not in {r.id for r in off}, "precondition: the partner is not a dense hit"
        on = mem.search("Who is Maya's dentist?", k=4, recall=dense_only.replace(concept_spread=1.0))
        assert [r.id for r in on][:2] == [ids[0], ids[1]], [(r.id, r.via) for r in on]
        assert on[0].via == "direct" and on[1].via == "concept:e:rostami", on[1].via


def test_stage_switches_and_cosine_floor(hash_memory):
    ids = hash_memory.add(FACTS)
    dense = hash_memory.search(FACTS[3], k=4, recall=RecallConfig.dense())
    assert dense[0].id == ids[3] and dense[0].score == pytest.approx(1.0, abs=1e-5), "dense scores are cosines"
    fused = hash_memory.search(FACTS[3], k=4)
    assert fused[0].id == ids[3] and fused[0].score > dense[0].score, "default scores add the cue and BM25 lists"
    floor = min(r.score for r in dense[:2])
    kept = hash_memory.search(FACTS[3], k=4, min_score=floor)
    assert {r.id for r in kept} == {r.id for r in dense if r.score >= floor}
    with pytest.raises(InvalidInputError, match="ingest"):
        Memory(hash_memory.store, hash_memory.encoder, ingest=IngestConfig(concepts=False))


def test_recall_chain_through_concept_cells_needs_no_link(hash_memory):
    ids = hash_memory.add([
        "Maya's dog is a beagle named Biscuit.",
        "Biscuit is allergic to chicken.",
        "Biscuit's kibble comes from PawPantry on Carlton Road.",
        "PawPantry gives ten percent off on Wednesdays.",
        "The spare key is under the blue pot.",
    ])
    chain = hash_memory.recall_chain(FACTS_DOG_CUE, hops=3, through="concepts")
    assert [r.id for r in chain] == ids[:4], [(r.id, r.via) for r in chain]
    assert [r.hop for r in chain] == [0, 1, 2, 3] and chain[3].path == ids[:4]
    assert chain[1].via == "concept:e:biscuit" and chain[3].via == "concept:e:pawpantry"
    assert hash_memory.recall_chain(FACTS_DOG_CUE, hops=3) == chain[:1], "no links: the Hebbian chain stops at hop 0"
    with pytest.raises(InvalidInputError, match="through"):
        hash_memory.recall_chain(FACTS_DOG_CUE, hops=1, through="telepathy")


FACTS_DOG_CUE = "Maya's dog is a beagle named Biscuit."
