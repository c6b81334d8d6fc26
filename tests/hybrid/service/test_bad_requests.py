"""Bad requests get a 4xx with a clear message, and change nothing in the store."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from hybrid.service import models as m  # noqa: E402

SEED_TEXTS = ["The red kite nests in the old oak.", "Invoices are paid on the 15th."]
#: A fixed id that is never assigned in these tests.
UNKNOWN_ID = 987_654
JSON = {"content-type": "application/json"}

# (name, method, url, kwargs for httpx, expected status, substring expected in the error message)
CASES = [
    ("oversized text", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "x" * (m.MAX_TEXT_CHARS + 1)}]}}, 422, "at most"),
    ("too many memories", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a"}] * (m.MAX_BATCH + 1)}}, 422, "memories"),
    ("empty batch", "POST", "/v1/ns/t/memories", {"json": {"memories": []}}, 422, "memories"),
    ("body over the limit", "POST", "/v1/ns/t/memories",
     {"content": b'{"memories": [{"text": "' + b"y" * (5 * 1024 * 1024) + b'"}]}', "headers": JSON}, 413, "limit"),
    ("blank text", "POST", "/v1/ns/t/memories", {"json": {"memories": [{"text": "   \n"}]}}, 422, "blank"),
    ("text is a number", "POST", "/v1/ns/t/memories", {"json": {"memories": [{"text": 5}]}}, 422, "text"),
    ("memories is a string", "POST", "/v1/ns/t/memories", {"json": {"memories": "abc"}}, 422, "memories"),
    ("metadata is a list", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a", "metadata": [1]}]}}, 422, "metadata"),
    ("metadata key with spaces", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a", "metadata": {"bad key": 1}}]}}, 422, "bad key"),
    ("metadata NaN", "POST", "/v1/ns/t/memories",
     {"content": b'{"memories": [{"text": "a", "metadata": {"x": NaN}}]}', "headers": JSON}, 422, "finite"),
    ("metadata too large", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a", "metadata": {"x": "z" * (m.MAX_METADATA_BYTES + 1)}}]}}, 422, "limit"),
    ("unknown field", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a"}], "namespace": "other"}}, 422, "namespace"),
    ("malformed JSON", "POST", "/v1/ns/t/memories", {"content": b'{"memories": [', "headers": JSON}, 400, "malformed JSON"),
    ("not JSON content type", "POST", "/v1/ns/t/memories",
     {"content": b"memories=a", "headers": {"content-type": "text/plain"}}, 422, "body"),
    ("k as a string", "POST", "/v1/ns/t/search", {"json": {"query": "a", "k": "5"}}, 422, "body.k"),
    ("k zero", "POST", "/v1/ns/t/search", {"json": {"query": "a", "k": 0}}, 422, "body.k"),
    ("k too large", "POST", "/v1/ns/t/search", {"json": {"query": "a", "k": m.MAX_K + 1}}, 422, "body.k"),
    ("negative hops", "POST", "/v1/ns/t/search", {"json": {"query": "a", "hops": -1}}, 422, "hops"),
    ("oversized query", "POST", "/v1/ns/t/search", {"json": {"query": "q" * (m.MAX_QUERY_CHARS + 1)}}, 422, "query"),
    ("missing query", "POST", "/v1/ns/t/search", {"json": {"k": 3}}, 422, "query"),
    ("nested where", "POST", "/v1/ns/t/search", {"json": {"query": "a", "where": {"x": {"y": 1}}}}, 422, "where"),
    ("ids as strings", "POST", "/v1/ns/t/memories/delete", {"json": {"ids": ["1"]}}, 422, "ids"),
    ("negative id in delete", "POST", "/v1/ns/t/memories/delete", {"json": {"ids": [-3]}}, 422, "positive"),
    ("update with nothing", "PATCH", "/v1/ns/t/memories/1", {"json": {}}, 422, "text"),
    ("update text wrong type", "PATCH", "/v1/ns/t/memories/1", {"json": {"text": ["a"]}}, 422, "text"),
    ("self link", "POST", "/v1/ns/t/links", {"json": {"a": 1, "b": 1}}, 422, "itself"),
    ("link id zero", "POST", "/v1/ns/t/links", {"json": {"a": 0, "b": 1}}, 422, "body.a"),
    ("unknown id get", "GET", f"/v1/ns/t/memories/{UNKNOWN_ID}", {}, 404, str(UNKNOWN_ID)),
    ("unknown id update", "PATCH", f"/v1/ns/t/memories/{UNKNOWN_ID}", {"json": {"text": "new"}}, 404, str(UNKNOWN_ID)),
    ("unknown id delete", "DELETE", f"/v1/ns/t/memories/{UNKNOWN_ID}", {}, 404, str(UNKNOWN_ID)),
    ("unknown id link", "POST", "/v1/ns/t/links", {"json": {"a": 1, "b": UNKNOWN_ID}}, 404, str(UNKNOWN_ID)),
    ("id not a number", "GET", "/v1/ns/t/memories/abc", {}, 422, "memory_id"),
    ("id negative", "GET", "/v1/ns/t/memories/-1", {}, 422, "memory_id"),
    ("id beyond int64", "GET", f"/v1/ns/t/memories/{2**64}", {}, 422, "memory_id"),
    ("namespace dot-dot", "GET", "/v1/ns/../memories", {}, 404, "no route"),
    ("namespace encoded slash", "GET", "/v1/ns/..%2F..%2Fetc/memories", {}, 404, "no route"),
    ("namespace hidden", "GET", "/v1/ns/.hidden/memories", {}, 422, "namespace"),
    ("namespace with space", "GET", "/v1/ns/a%20b/memories", {}, 422, "namespace"),
    ("namespace with semicolon", "POST", "/v1/ns/a;drop/memories", {"json": {"memories": [{"text": "a"}]}}, 422, "namespace"),
    ("namespace too long", "GET", "/v1/ns/" + "n" * 65 + "/memories", {}, 422, "namespace"),
    ("namespace NUL", "GET", "/v1/ns/a%00b/memories", {}, 422, "namespace"),
    ("list limit too large", "GET", "/v1/ns/t/memories?limit=1000000", {}, 422, "limit"),
    ("list offset negative", "GET", "/v1/ns/t/memories?offset=-1", {}, 422, "offset"),
    ("wrong method", "PUT", "/v1/ns/t/memories", {"json": {}}, 405, "Method Not Allowed"),
    # issue 15: what cannot be stored faithfully, or bound as a 64-bit SQLite integer, is a 422, not a 500
    ("where int beyond 64 bits", "POST", "/v1/ns/t/search", {"json": {"query": "a", "where": {"n": 2**70}}}, 422, "64-bit"),
    ("where lone surrogate", "POST", "/v1/ns/t/search",
     {"content": b'{"query": "a", "where": {"k": "\\udcff"}}', "headers": JSON}, 422, "surrogate"),
    ("text lone surrogate", "POST", "/v1/ns/t/memories",
     {"content": b'{"memories": [{"text": "a\\udcff"}]}', "headers": JSON}, 422, "unicode"),
    ("metadata lone surrogate", "POST", "/v1/ns/t/memories",
     {"content": b'{"memories": [{"text": "a", "metadata": {"k": "\\ud800"}}]}', "headers": JSON}, 422, "surrogate"),
    ("metadata int beyond 64 bits", "POST", "/v1/ns/t/memories",
     {"json": {"memories": [{"text": "a", "metadata": {"n": 2**64}}]}}, 422, "64-bit"),
    ("metadata nested deep", "POST", "/v1/ns/t/memories",
     {"content": b'{"memories": [{"text": "a", "metadata": {"k": ' + b"[" * 200 + b"]" * 200 + b"}}]}",
      "headers": JSON}, 422, "nested"),
    ("query lone surrogate", "POST", "/v1/ns/t/search",
     {"content": b'{"query": "a\\udcff"}', "headers": JSON}, 422, "unicode"),
    ("update metadata lone surrogate", "PATCH", "/v1/ns/t/memories/1",
     {"content": b'{"metadata": {"k": "\\udcff"}}', "headers": JSON}, 422, "surrogate"),
]


def snapshot(mem):
    return [(r.id, r.namespace, r.text, r.metadata, r.updated_at) for r in mem.list(limit=10_000)], mem.store.last_change()


@pytest.mark.parametrize("name,method,url,kwargs,status,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_refused_and_changes_nothing(store_path, hash_encoder, name, method, url, kwargs, status, needle):
    from fastapi.testclient import TestClient

    from hybrid import Memory
    from hybrid.service.api import create_app

    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        mem.add(SEED_TEXTS, namespace="t")
        before = snapshot(mem)
        with TestClient(create_app(mem)) as client:
            r = client.request(method, url, **kwargs)
        assert r.status_code == status, f"{name}: got {r.status_code} ({r.text[:300]}), want {status}"
        err = r.json()["error"]
        assert err["status"] == status and err["message"], f"{name}: error body lacks a message: {r.text[:300]}"
        assert needle.lower() in err["message"].lower(), f"{name}: message {err['message']!r} should mention {needle!r}"
        assert snapshot(mem) == before, f"{name}: the store changed"
