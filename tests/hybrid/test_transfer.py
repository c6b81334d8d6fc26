"""``export_jsonl`` / ``import_jsonl``: a store round-trips through JSONL into another store."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from hybrid import Memory
from hybrid.errors import InvalidInputError
from hybrid.linking import LinkConfig

MAY_8 = 1683554160.0
#: Scores of the same query on the source and the imported store (same encoder, same keys).
ATOL_SCORE = 1e-6


def make_source(path, encoder):
    mem = Memory.open(path, encoder=encoder, device="cpu", links=LinkConfig(entities=True), cue_keys="all")
    a = mem.add(["Maya met Dr Ruiz at the Elm Street clinic", "Dr Ruiz moved to Oak Avenue"],
                metadata=[{"topic": "health"}, {"topic": "health", "n": 2}], namespace="maya",
                created_at=[MAY_8, MAY_8 + 60])
    b = mem.add(["turn one", "turn two", "turn three"], namespace="chat", sequence=True, created_at=MAY_8 + 120)
    mem.add(["turn one"], namespace="chat", dedupe=False)  # a deliberate copy
    mem.link(a[1], b[0])
    return mem, a, b


def links_of(mem):
    return sorted(mem.store.query("SELECT src, dst, source, created_at FROM assoc_links"))


def test_round_trip_keeps_everything(tmp_path, hash_encoder):
    src, a, b = make_source(tmp_path / "src", hash_encoder)
    buf = io.StringIO()
    counts = src.export_jsonl(buf)
    lines = buf.getvalue().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "hhmem-export" and header["format_version"] == 1 and header["dim"] == 64
    assert counts == {"memories": 6, "links": len(links_of(src))} and counts["links"] > 4

    dst = Memory.open(tmp_path / "dst", encoder=hash_encoder, device="cpu")
    try:
        res = dst.import_jsonl(lines, dedupe=False)
        assert res.added == 6 and res.duplicates == 0 and res.links == counts["links"]
        assert res.ids == {i: i for i in range(1, 7)}  # a fresh store gives the same ids here
        for old in src.store.get_many(list(res.ids), with_keys=True):
            new = dst.store.get(res.ids[old.id], with_keys=True)
            assert (new.text, new.namespace, new.metadata, new.created_at) == \
                   (old.text, old.namespace, old.metadata, old.created_at)
            assert [(k.kind, k.text) for k in new.keys] == [(k.kind, k.text) for k in old.keys]
            assert all(np.allclose(x.vector, y.vector) for x, y in zip(new.keys, old.keys))
        assert links_of(dst) == links_of(src)
        assert sorted(dst.store.query("SELECT * FROM assoc_terms")) == sorted(src.store.query("SELECT * FROM assoc_terms"))
        for q in ("where did Dr Ruiz move", "turn two"):
            for ns in ("maya", "chat"):
                got = [(r.id, r.score) for r in dst.search(q, k=3, namespace=ns, hops=1)]
                want = [(res.ids[r.id], r.score) for r in src.search(q, k=3, namespace=ns, hops=1)]
                assert [g[0] for g in got] == [w[0] for w in want]
                np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], atol=ATOL_SCORE)
        # a second import maps every memory to the existing one (duplicates) and adds no link
        again = dst.import_jsonl(lines)
        assert again.added == 0 and again.duplicates == 6 and again.links == 0 and dst.count() == 6
    finally:
        dst.close()
        src.close()


def test_namespace_export_with_vectors_into_a_non_empty_store(tmp_path, hash_encoder):
    src, a, b = make_source(tmp_path / "src", hash_encoder)
    buf = io.StringIO()
    src.export_jsonl(buf, namespace="maya", vectors=True)
    recs = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert {r["namespace"] for r in recs if r.get("type") == "memory"} == {"maya"}
    assert all("vector" in k for r in recs if r.get("type") == "memory" for k in r["keys"])
    links = [r for r in recs if r.get("type") == "link"]
    assert links and all(r["src"] in a and r["dst"] in a for r in links), "only links inside the namespace"
    dst = Memory.open(tmp_path / "dst", encoder=hash_encoder, device="cpu")
    try:
        dst.add(["something already here"])
        res = dst.import_jsonl(buf.getvalue().splitlines(), namespace="copy")
        assert sorted(res.ids) == a and all(v > 1 for v in res.ids.values())
        assert dst.store.namespaces() == {"copy": 2, "default": 1}
        assert dst.get(res.ids[a[0]]).created_at == MAY_8
    finally:
        dst.close()
        src.close()


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ('{"text": "x"}\n', "not an hhmem export"),
    ('{"format": "hhmem-export", "format_version": 99}\n', "version 99"),
    ('{"format": "hhmem-export", "format_version": 1}\nnot json\n', r"<input>:2: not valid JSON"),
    ('{"format": "hhmem-export", "format_version": 1}\n{"type": "memory", "id": 1, "text": " "}\n', ":2: .*non-blank"),
    ('{"format": "hhmem-export", "format_version": 1}\n{"type": "memory", "id": 1, "text": "a", "created_at": "soon"}\n',
     ":2: created_at"),
    ('{"format": "hhmem-export", "format_version": 1}\n{"type": "link", "src": 1, "dst": 2}\n', ":2: link 1 -> 2"),
])
def test_bad_import_files_write_nothing(hash_memory, content, message):
    with pytest.raises(InvalidInputError, match=message):
        hash_memory.import_jsonl(content.splitlines())
    assert hash_memory.count() == 0
