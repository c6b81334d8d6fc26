"""The MCP server through the official MCP client: `hhmem mcp` started as a stdio subprocess."""

from __future__ import annotations

import json

import anyio
import pytest

pytest.importorskip("mcp")

pytestmark = pytest.mark.slow

MODEL = "hash-512"
AGENT_NS = "agent-1"
OTHER_NS = "agent-2"
#: Seconds allowed for the whole client session (start, calls, shutdown).
SESSION_TIMEOUT_S = 120
FACTS = ["The user's daughter is called Ines.", "The user prefers meetings after 10am.", "The user's dog is a beagle."]


def payload(result):
    """The tool's structured result (or its JSON text block)."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result) -> str:
    assert result.is_error, f"expected an error result, got {result}"
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_mcp_tools_over_stdio(tmp_path, mcp_command):
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    from hybrid import Memory

    store = tmp_path / "store"
    with Memory.open(store, encoder=MODEL, device="cpu") as mem:
        other_id = mem.add(["Another agent's secret: the vault code is 1234."], namespace=OTHER_NS)[0]
    exe, args, env = mcp_command(store, AGENT_NS, model=MODEL)

    async def session() -> None:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with Client(StdioServerParameters(command=exe, args=args, env=env)) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert {"remember", "recall", "forget"} <= set(tools), f"tools offered: {sorted(tools)}"
                assert "text" in tools["remember"].input_schema["properties"]

                empty = payload(await client.call_tool("recall", {"query": "anything at all"}))
                assert empty == {"results": []}, "a new namespace recalls nothing"

                ids = []
                for fact in FACTS:
                    res = payload(await client.call_tool("remember", {"text": fact, "metadata": {"src": "chat"}}))
                    assert res["namespace"] == AGENT_NS
                    ids.append(res["id"])
                got = payload(await client.call_tool("recall", {"query": FACTS[1], "k": 2}))["results"]
                assert got[0]["id"] == ids[1] and got[0]["text"] == FACTS[1] and got[0]["metadata"] == {"src": "chat"}
                assert got[0]["via"] == "direct", "recall runs the default recall and says how it got there"
                ask = {"query": FACTS[1], "k": 5}  # a metadata filter
                assert payload(await client.call_tool("recall", {**ask, "where": {"src": "mail"}}))["results"] == []
                hits = payload(await client.call_tool("recall", {**ask, "where": {"src": "chat"}}))["results"]
                assert hits and hits[0]["id"] == ids[1]
                assert "where" in error_text(await client.call_tool("recall", {"query": "x", "where": {"src": [1]}}))

                # Isolation: the other agent's memory is never recalled and cannot be forgotten from here.
                vault = payload(await client.call_tool("recall", {"query": "the vault code is 1234", "k": 10}))
                assert other_id not in [h["id"] for h in vault["results"]]
                assert "not found" in error_text(await client.call_tool("forget", {"id": other_id}))

                assert payload(await client.call_tool("forget", {"id": ids[1]}))["deleted"] is True
                after = payload(await client.call_tool("recall", {"query": FACTS[1], "k": 3}))["results"]
                assert ids[1] not in [h["id"] for h in after], "a forgotten memory was recalled"

                # Bad arguments give error results with a clear message, not a crash.
                assert "blank" in error_text(await client.call_tool("remember", {"text": "   "}))
                assert "k must be" in error_text(await client.call_tool("recall", {"query": "x", "k": 0}))
                bad_type = await client.call_tool("forget", {"id": "seven"})
                assert bad_type.is_error
                hops = await client.call_tool("recall", {"query": FACTS[0], "hops": 1})
                with Memory.open(store, encoder=MODEL, create=False, device="cpu") as probe:
                    from hybrid.service.api import supports_hops

                    if supports_hops(probe):
                        assert not hops.is_error
                    else:
                        assert "hops" in error_text(hops)

    anyio.run(session)

    with Memory.open(store, encoder=MODEL, create=False, device="cpu") as mem:
        assert mem.count(namespace=AGENT_NS) == len(FACTS) - 1, "exactly one fact was forgotten"
        assert mem.get(other_id).namespace == OTHER_NS, "the other agent's memory must be intact"
