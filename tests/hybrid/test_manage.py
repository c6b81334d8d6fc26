"""Memory management: duplicates, listing everything, namespace delete, sizes."""

from __future__ import annotations

import pytest

from hybrid import Memory

#: A 150-memory store with associations must stay under this on disk (issue 17).
MAX_STORE_BYTES_150_WITH_LINKS = 5 * 1024 * 1024


def test_exact_duplicates_return_the_existing_id(hash_memory):
    first = hash_memory.add(["the key is under the pot", "the car is blue"], metadata={"v": 1})
    again = hash_memory.add(["the car is blue", "a new fact", "a new fact"], metadata={"v": 2})
    assert again[0] == first[1] and again[1] == again[2] and again[1] not in first
    assert hash_memory.count() == 3
    assert hash_memory.get(first[1]).metadata == {"v": 1}  # the existing memory is left as it was
    other_ns = hash_memory.add(["the car is blue"], namespace="work")
    assert other_ns[0] not in first  # duplicates are per namespace
    copies = hash_memory.add(["the car is blue"], dedupe=False)
    assert copies[0] not in first and hash_memory.count() == 5
    results = hash_memory.search("the key is under the pot", k=2)
    assert len({r.text for r in results}) == 2


def test_list_without_limit_and_namespace_delete(hash_memory):
    hash_memory.add([f"memory {i}" for i in range(130)], namespace="a")
    hash_memory.add(["b one", "b two"], namespace="b")
    assert len(hash_memory.list()) == 100
    assert len(hash_memory.list(limit=None)) == 132
    assert len(hash_memory.list(namespace="a", limit=None, offset=10)) == 120
    ids_b = [r.id for r in hash_memory.list(namespace="b")]
    hash_memory.link(ids_b[0], ids_b[1])
    assert hash_memory.delete_namespace("b") == ids_b
    assert hash_memory.store.namespaces() == {"a": 130}
    assert hash_memory.store.query("SELECT COUNT(*) FROM assoc_links")[0][0] == 0
    assert all(r.namespace == "a" for r in hash_memory.search("b one", k=5))
    assert hash_memory.delete_namespace("nothing-here") == []


def test_stats_reports_bytes_of_each_part(hash_memory):
    ids = hash_memory.add([f"fact number {i} about things" for i in range(150)])
    hash_memory.link(ids[:-1], ids[1:])
    hash_memory.search("fact number 1", k=2, hops=1)  # learns W; close writes the checkpoint
    hash_memory.close()
    mem = Memory.open(hash_memory.store.path, encoder=hash_memory.encoder, device="cpu")
    try:
        st = mem.stats()["bytes"]
        disk, memory = st["disk"], st["memory"]
        for part in ("records", "keys", "links", "database_file", "associations_file", "ann_index_files", "total"):
            assert isinstance(disk[part], int), part
        assert disk["keys"] > 150 * 64 * 4 and disk["records"] > 0 and disk["links"] > 0
        # The folder keeps the association checkpoint; a PostgreSQL store keeps no files.
        assert (disk["associations_file"] > 0) == (mem.store.folder is not None)
        assert memory["keys"] == 150 * 64 * 4 and memory["associations"] is None
        mem.search("fact number 3", k=2, hops=1)
        assert mem.stats()["bytes"]["memory"]["associations"] > 0
        assert disk["total"] < MAX_STORE_BYTES_150_WITH_LINKS, (
            f"store of 150 memories with links is {disk['total']} bytes; limit {MAX_STORE_BYTES_150_WITH_LINKS}")
    finally:
        mem.close()


@pytest.mark.parametrize("limit", [-1])
def test_list_rejects_negative_limit(hash_memory, limit):
    from hybrid.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="limit"):
        hash_memory.list(limit=limit)
