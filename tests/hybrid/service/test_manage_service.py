"""Memory management over HTTP (TestClient) and MCP (in-process client): created_at, since/until,
min_score, namespace delete and export, the MCP update tool."""

from __future__ import annotations

import json

import anyio
import pytest

MAY_8 = 1683554160.0
DAY = 86400.0


def add(client, ns, memories):
    res = client.post(f"/v1/ns/{ns}/memories", json={"memories": memories})
    assert res.status_code == 201, res.text
    return res.json()["ids"]


def test_http_times_min_score_and_results_carry_created_at(api_client):
    ids = add(api_client, "a", [{"text": "alpha release notes", "created_at": "2023-05-08T13:56:00Z"},
                                {"text": "beta release notes", "created_at": MAY_8 + 2 * DAY},
                                {"text": "unrelated grocery list"}])
    res = api_client.post("/v1/ns/a/search", json={"query": "release notes", "k": 3, "until": "2023-05-09"})
    assert res.status_code == 200, res.text
    hits = res.json()["results"]
    assert [h["id"] for h in hits] == [ids[0]] and hits[0]["created_at"] == MAY_8
    res = api_client.post("/v1/ns/a/search", json={"query": "release notes", "k": 3, "since": MAY_8 + DAY})
    assert {h["id"] for h in res.json()["results"]} == {ids[1], ids[2]}
    res = api_client.post("/v1/ns/a/search", json={"query": "unrelated grocery list", "k": 3, "min_score": 0.9})
    assert res.status_code == 200, res.text
    assert [h["id"] for h in res.json()["results"]] == [ids[2]]
    for body, field in ((
            {"query": "x", "since": "someday"}, "since"),
            ({"query": "x", "min_score": "high"}, "min_score"),
            ({"query": "x", "since": "2024-01-01", "until": "2023-01-01"}, "since is after until"),
            ({"query": "x", "fusion": True}, "fusion")):
        res = api_client.post("/v1/ns/a/search", json=body)
        assert res.status_code == 422 and field in res.text, res.text
    res = api_client.post("/v1/ns/a/memories", json={"memories": [{"text": "t", "created_at": "soon"}]})
    assert res.status_code == 422 and "created_at" in res.text
    # duplicates: the same text returns the existing id, unless keep_duplicates
    assert add(api_client, "a", [{"text": "alpha release notes"}]) == [ids[0]]
    res = api_client.post("/v1/ns/a/memories", json={"memories": [{"text": "alpha release notes"}],
                                                     "keep_duplicates": True})
    assert res.status_code == 201 and res.json()["ids"][0] not in ids


def test_http_namespace_export_and_delete(api_client):
    ids = add(api_client, "keep", [{"text": "kept one"}, {"text": "kept two", "metadata": {"x": 1}}])
    gone = add(api_client, "drop", [{"text": "dropped one"}, {"text": "dropped two"}])
    assert api_client.post("/v1/ns/drop/links", json={"a": gone[0], "b": gone[1]}).status_code == 200
    res = api_client.get("/v1/ns/drop/export")
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in res.text.splitlines()]
    assert lines[0]["format"] == "hhmem-export" and lines[0]["namespace"] == "drop"
    assert [x["id"] for x in lines if x.get("type") == "memory"] == gone
    assert [(x["src"], x["dst"]) for x in lines if x.get("type") == "link"] == [(gone[0], gone[1])]
    res = api_client.delete("/v1/ns/drop")
    assert res.status_code == 200 and res.json() == {"namespace": "drop", "deleted": 2, "ids": gone}
    assert api_client.get("/v1/namespaces").json() == {"keep": 2}
    assert api_client.delete("/v1/ns/drop").json()["deleted"] == 0
    assert [m["id"] for m in api_client.get("/v1/ns/keep/memories").json()["memories"]] == ids


def test_mcp_update_and_time_window(hash_memory):
    pytest.importorskip("mcp")
    from mcp.client import Client

    from hybrid.service.mcp_server import build_server

    server = build_server(hash_memory, namespace="agent")
    other = hash_memory.add(["someone else's note"], namespace="other")[0]

    def data(result):
        assert not result.is_error, result
        return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)

    async def session() -> None:
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {"remember", "recall", "forget", "update"} <= set(tools)
            old = data(await client.call_tool("remember", {"text": "met Ana at the lake", "created_at": MAY_8}))["id"]
            new = data(await client.call_tool("remember", {"text": "met Ana at the cafe"}))["id"]
            got = data(await client.call_tool("recall", {"query": "met Ana", "k": 5, "until": "2023-06-01"}))["results"]
            assert [r["id"] for r in got] == [old] and got[0]["created_at"] == MAY_8
            got = data(await client.call_tool("recall", {"query": "met Ana", "k": 5, "since": "30d"}))["results"]
            assert [r["id"] for r in got] == [new]
            got = data(await client.call_tool("recall", {"query": "met Ana at the cafe", "k": 5, "min_score": 0.99}))
            assert [r["id"] for r in got["results"]] == [new]
            upd = data(await client.call_tool("update", {"id": new, "text": "met Ana at the cinema",
                                                         "metadata": {"mood": "good"}}))
            assert upd["text"] == "met Ana at the cinema" and upd["metadata"] == {"mood": "good"}
            assert hash_memory.get(new).text == "met Ana at the cinema"
            for args in ({"id": other, "text": "hijack"}, {"id": new}, {"id": 999, "text": "x"}):
                assert (await client.call_tool("update", args)).is_error
            assert hash_memory.get(other).text == "someone else's note"
            bad = await client.call_tool("recall", {"query": "x", "since": "whenever"})
            assert bad.is_error

    anyio.run(session)
