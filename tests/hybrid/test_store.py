"""Store and Memory on the hash encoder: persistence, filters, updates, bad input, damaged files."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from hybrid import (
    InvalidInputError,
    Memory,
    NotFoundError,
    StoreCorruptError,
    StoreMismatchError,
    StoreVersionError,
)
from hybrid.recall import RecallConfig
from hybrid.store import DATABASE, FORMAT_VERSION, MANIFEST

TEXTS = ["the red kettle is in the pantry", "Oslo is cold in winter", "my dentist is Dr Ruiz", "bikes need oil"]

DENSE = RecallConfig.dense()  # the two-stage retriever alone: cosine scores


def snapshot(store_path):
    return {p.name: p.read_bytes() for p in store_path.iterdir() if p.name in (MANIFEST, DATABASE)}


def test_round_trip_survives_reopen(store_path, hash_encoder):
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        ids = mem.add(TEXTS, metadata=[{"i": i} for i in range(4)], namespace="home")
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        assert mem.count() == 4 and len(mem.retriever) == 4
        rec = mem.get(ids[2])
        assert (rec.text, rec.metadata, rec.namespace) == (TEXTS[2], {"i": 2}, "home")
        assert mem.search("dentist Ruiz", k=1)[0].id == ids[2]
        manifest = json.loads((store_path / MANIFEST).read_text())
        assert manifest["format_version"] == FORMAT_VERSION and manifest["dim"] == 64
        assert manifest["model"] == "hash-64" and "hhmem" in manifest["versions"]


def test_namespace_and_where_filters(hash_memory):
    a = hash_memory.add(TEXTS[:2], namespace="a", metadata={"kind": "x", "n": 1})
    b = hash_memory.add(TEXTS[2:], namespace="b", metadata=[{"kind": "x", "flag": True}, {"kind": "y", "flag": False}])
    assert {r.id for r in hash_memory.search("kettle", k=10, namespace="a")} == set(a)
    assert {r.id for r in hash_memory.search("kettle", k=10, namespace="b")} == set(b)
    assert {r.id for r in hash_memory.search("kettle", k=10, where={"kind": "x"})} == set(a) | {b[0]}
    assert [r.id for r in hash_memory.search("oil", k=10, where={"flag": False})] == [b[1]]
    assert [r.id for r in hash_memory.search("oil", k=10, where={"flag": True})] == [b[0]]
    assert {r.id for r in hash_memory.search("oil", k=10, where={"n": 1})} == set(a)
    assert hash_memory.search("oil", k=10, where={"kind": "nope"}) == []


def test_unknown_namespace_and_bad_filter_types(hash_memory):
    hash_memory.add(TEXTS)
    with pytest.raises(NotFoundError, match="namespace 'ghost' has no memories"):
        hash_memory.search("x", namespace="ghost")
    with pytest.raises(InvalidInputError, match=r"where\['tags'\] must be a str, int, float, bool or None"):
        hash_memory.search("x", where={"tags": ["a"]})
    with pytest.raises(InvalidInputError, match="namespace must be"):
        hash_memory.search("x", namespace="../etc")


def test_update_and_delete(hash_memory):
    ids = hash_memory.add(TEXTS)
    hash_memory.update(ids[0], text="the blue kettle moved to the garage", metadata={"moved": True})
    rec = hash_memory.get(ids[0])
    assert rec.text.startswith("the blue kettle") and rec.metadata == {"moved": True}
    assert hash_memory.search("blue kettle garage", k=1)[0].id == ids[0]
    assert hash_memory.delete([ids[1], 999]) == [ids[1]]
    with pytest.raises(NotFoundError, match=f"memory {ids[1]} not found"):
        hash_memory.get(ids[1])
    assert ids[1] not in [r.id for r in hash_memory.search("Oslo cold winter", k=4)]
    with pytest.raises(NotFoundError):
        hash_memory.update(12345, metadata={})


def test_delete_respects_namespace(hash_memory):
    a = hash_memory.add(TEXTS[:1], namespace="a")
    assert hash_memory.delete(a, namespace="b") == []
    assert hash_memory.count() == 1


@pytest.mark.parametrize(
    "texts, message",
    [
        ([""], "empty or whitespace"),
        (["   \n"], "empty or whitespace"),
        ([42], "must be a str"),
        (["x" * 200_001], "limit is 200000"),
        (["nul\x00byte"], "NUL"),
    ],
)
def test_bad_texts_are_rejected_and_nothing_is_written(hash_memory, texts, message):
    hash_memory.add(["keep me"])
    with pytest.raises(InvalidInputError, match=message):
        hash_memory.add(["fine text"] + texts)
    assert hash_memory.count() == 1 and len(hash_memory.retriever) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metadata": {"bad key!": 1}}, "key .bad key!. is not allowed"),
        ({"metadata": {"x": float("nan")}}, "finite"),
        ({"metadata": {"x": object()}}, "JSON-serialisable"),
        ({"metadata": "tag"}, "mapping"),
        ({"namespace": ""}, "namespace must be"),
        ({"namespace": "a/b"}, "namespace must be"),
        ({"vectors": np.full((1, 64), np.nan)}, "NaN"),
        ({"vectors": np.ones((1, 32))}, "dimension 64"),
    ],
)
def test_bad_arguments_are_rejected(hash_memory, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        hash_memory.add(["a perfectly fine memory"], **kwargs)
    assert hash_memory.count() == 0


def test_vectors_can_be_given_directly(hash_memory):
    v = np.eye(64, dtype=np.float32)[:2]
    ids = hash_memory.add(["first", "second"], vectors=v)
    scores, got = hash_memory.search_ids(np.eye(64, dtype=np.float32)[1:2], k=3)
    assert got[0, 0] == ids[1] and got[0, 2] == -1 and np.isneginf(scores[0, 2])


def test_wrong_dimension_query(hash_memory):
    hash_memory.add(TEXTS)
    with pytest.raises(InvalidInputError, match="dimension 64"):
        hash_memory.search_ids(np.ones((1, 10)), k=1)


def make_store(path, encoder):
    with Memory.open(path, encoder=encoder, device="cpu") as mem:
        mem.add(TEXTS)


def test_truncated_database_is_reported_and_left_intact(store_path, hash_encoder):
    make_store(store_path, hash_encoder)
    db = store_path / DATABASE
    db.write_bytes(db.read_bytes()[:1500])
    before = snapshot(store_path)
    with pytest.raises(StoreCorruptError, match=str(db)):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")
    assert snapshot(store_path) == before


def test_foreign_sqlite_file_is_refused(store_path, hash_encoder):
    make_store(store_path, hash_encoder)
    db = store_path / DATABASE
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = snapshot(store_path)
    with pytest.raises(StoreCorruptError, match="not written by hhmem"):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")
    assert snapshot(store_path) == before


def test_garbage_database_file(store_path, hash_encoder):
    make_store(store_path, hash_encoder)
    (store_path / DATABASE).write_bytes(b"this is not a database at all" * 10)
    with pytest.raises(StoreCorruptError, match="not an SQLite database"):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")


def test_newer_format_version_is_refused(store_path, hash_encoder):
    make_store(store_path, hash_encoder)
    m = json.loads((store_path / MANIFEST).read_text())
    m["format_version"] = FORMAT_VERSION + 1
    (store_path / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(StoreVersionError, match="newer than this hhmem supports"):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")


@pytest.mark.parametrize("content, message", [("{not json", "not valid JSON"), ('{"a": 1}', "not an hhmem manifest")])
def test_damaged_manifest(store_path, hash_encoder, content, message):
    make_store(store_path, hash_encoder)
    (store_path / MANIFEST).write_text(content)
    with pytest.raises(StoreCorruptError, match=message):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")


def test_foreign_folder_is_not_a_store(tmp_path, hash_encoder):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StoreCorruptError, match="manifest missing"):
        Memory.open(tmp_path, encoder=hash_encoder, device="cpu")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_encoder_mismatch(store_path, hash_encoder):
    make_store(store_path, hash_encoder)
    with pytest.raises(StoreMismatchError, match="dimension 64"):
        Memory.open(store_path, encoder="hash-32", device="cpu")


def test_open_without_create(tmp_path, hash_encoder):
    with pytest.raises(NotFoundError, match="no hhmem store here"):
        Memory.open(tmp_path / "nothing", encoder=hash_encoder, create=False)


def test_copy_of_a_store_opens(store_path, hash_encoder, tmp_path):
    make_store(store_path, hash_encoder)
    copy = tmp_path / "copy"
    shutil.copytree(store_path, copy)
    with Memory.open(copy, encoder=hash_encoder, device="cpu") as mem:
        assert mem.count() == len(TEXTS)


def test_list_count_stats(hash_memory):
    hash_memory.add(TEXTS[:3], namespace="a")
    hash_memory.add(TEXTS[3:], namespace="b")
    assert [r.text for r in hash_memory.list(namespace="a")] == TEXTS[:3]
    assert hash_memory.count(namespace="b") == 1
    st = hash_memory.stats()
    assert st["namespaces"] == {"a": 3, "b": 1} and st["keys"] == 4 and st["index_bytes"] == 4 * 64 * 4


@pytest.mark.parametrize("backend", ["hnswlib", "hnsw"])
def test_memory_with_an_approximate_stage1(store_path, hash_encoder, backend):
    """``Memory(backend=...)`` reaches the retriever; on a small store the graph finds what exact
    stage 1 finds (compared on the dense recall alone, whose scores are cosines), filters fall back to exact stage 1, and deleted memories never come back."""
    pytest.importorskip("hnswlib" if backend == "hnswlib" else "faiss")
    texts = [f"note {i}: the {w} in room {i % 7} was checked" for i, w in enumerate(["kettle", "lamp", "door", "window"] * 50)]
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as exact:
        ids = exact.add(texts[:100], namespace="a") + exact.add(texts[100:], namespace="b")
        want = [exact.search(t, k=3, recall=DENSE) for t in texts[:20]]
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend=backend) as mem:
        assert mem.stats()["backend"] == backend
        for text, w in zip(texts[:20], want):
            g = mem.search(text, k=3, recall=DENSE)  # hash encoder: many equal scores; compare scores, not tied ids
            assert np.allclose([r.score for r in g], [r.score for r in w], atol=1e-5), f"{backend} differs from exact for {text!r}"
            assert all(r.id in ids for r in g)
        assert {r.id for r in mem.search("kettle", k=5, namespace="a")} <= set(ids[:100])
        mem.delete([ids[0]])
        assert ids[0] not in [r.id for r in mem.search(texts[0], k=5)]
    with pytest.raises(InvalidInputError, match="backend"):
        Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="annoy")


def test_approximate_index_is_kept_in_the_store_folder(store_path, hash_encoder):
    """The graph built in one session is saved at close and reused by the next open; a damaged
    file is reported, rebuilt from the database, and nothing is lost."""
    pytest.importorskip("hnswlib")
    texts = [f"entry {i} about topic {i % 13} and item {i * 7 % 31}" for i in range(300)]
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        mem.add(texts)
        want = [r.id for r in mem.search(texts[5], k=5, recall=DENSE)]
    graph = store_path / "ann-hnswlib.idx"
    assert graph.is_file() and (store_path / "ann-hnswlib.idx.json").is_file()
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        assert mem.retriever.index_rows == 300, "the saved graph must be loaded, not rebuilt"
        assert [r.id for r in mem.search(texts[5], k=5, recall=DENSE)] == want
        mem.add(["one more entry about topic 99"])
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        assert mem.retriever.index_rows == 301, "the graph extended in the last session was saved"
    graph.write_bytes(graph.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match="truncated or damaged"):
        mem = Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib")
    with mem:
        assert mem.retriever.index_rows == 0 and mem.count() == 301
        assert [r.id for r in mem.search(texts[5], k=5, recall=DENSE)] == want
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        assert mem.retriever.index_rows == 301, "the rebuilt graph replaced the damaged file at close"


def test_build_index_ahead_of_the_first_search(store_path, hash_encoder):
    pytest.importorskip("hnswlib")
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        mem.add([f"memory number {i} about {i % 11}" for i in range(250)])
        with pytest.raises(InvalidInputError, match="approximate backend"):
            mem.build_index()
    seen = []
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        assert mem.retriever.index_rows == 0
        assert mem.build_index(lambda done, total: seen.append((done, total))) == 250
        assert seen[-1] == (250, 250) and mem.index_path().is_file()
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        assert mem.retriever.index_rows == 250, "the index built ahead is loaded at open"


def test_cached_filter_masks_follow_every_change(store_path, hash_encoder):
    """Filter masks are reused between searches but never go stale: writes here, writes by another
    process's Memory, metadata updates and compaction all change what a filtered search sees."""
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem, \
            Memory.open(store_path, encoder=hash_encoder, device="cpu") as other:
        a = mem.add([f"alpha note {i}" for i in range(40)], namespace="a", metadata={"tag": "x"})
        b = mem.add([f"beta note {i}" for i in range(40)], namespace="b", metadata={"tag": "y"})

        def ids(**kw):
            return {r.id for r in mem.search("note", k=200, **kw)}

        assert ids(namespace="a") == set(a) and ids(where={"tag": "y"}) == set(b)
        assert ids(namespace="a") == set(a), "second search: served from the cache"
        new = other.add(["alpha note extra"], namespace="a", metadata={"tag": "y"})[0]  # another writer
        assert ids(namespace="a") == set(a) | {new} and ids(where={"tag": "y"}) == set(b) | {new}
        mem.update(new, metadata={"tag": "x"})
        assert new not in ids(where={"tag": "y"}) and new in ids(where={"tag": "x"})
        gone = mem.delete(a[:30])
        assert ids(namespace="a") == set(a[30:]) | {new} and not set(gone) & ids(where={"tag": "x"})
        mem.retriever.compact()  # rows renumbered without a store change: the stamp's row counts move
        assert ids(namespace="a") == set(a[30:]) | {new} and ids(where={"tag": "x"}) == set(a[30:]) | {new}
        assert ids(namespace="b", where={"tag": "y"}) == set(b)
