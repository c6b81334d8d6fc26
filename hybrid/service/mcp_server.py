"""An MCP server (official ``mcp`` SDK, stdio transport) giving an agent remember / recall / forget.

One server serves one namespace of one store (chosen when it starts), so an agent can neither see
nor delete another agent's memories. The store may be open in other processes at the same time
(the HTTP API, the CLI, other MCP servers): recall sees their writes without a restart.

Tools:
    remember(text, metadata=None, created_at=None) -> {"id", "namespace"}
    recall(query, k=5, hops=0, where=None, since=None, until=None, min_score=None)
                                    -> {"results": [{"id", "score", "text", "metadata", "hop", "path", "via", "created_at"}]}
    update(id, text=None, metadata=None) -> the updated memory {"id", "text", "metadata", "created_at", "updated_at"}
    forget(id)                      -> {"deleted": true} (an error result for an id not in the namespace)

Times (``created_at``, ``since``, ``until``) are epoch seconds or ISO 8601 strings; ``since``/``until``
also take a duration before now (``"7d"``).

Run it with ``hhmem mcp --store PATH --namespace NAME``; see ``docs/service.md`` for an agent config.
"""

from __future__ import annotations

import io
import json
from typing import Any

from .._logging import quiet_library_loggers
from ..errors import HHMemError, NotFoundError
from ..memory import Memory
from ..store import validate_namespace
from . import models as m
from .api import supports_hops

SERVER_NAME = "hhmem"


def build_server(memory: Memory, *, namespace: str = "default") -> Any:
    """An :class:`mcp.server.mcpserver.MCPServer` with the three memory tools bound to ``namespace``."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from .._version import __version__

    validate_namespace(namespace)
    quiet_library_loggers()
    multi_hop = supports_hops(memory)
    server = MCPServer(
        SERVER_NAME,
        version=__version__,
        instructions=(
            f"Long-term memory (namespace {namespace!r}). Use `remember` to store a fact, `recall` to find "
            "the facts that best match a question (since/until: a time window), `update` to correct one, "
            "and `forget` to delete one by id."
        ),
        log_level="WARNING",
    )

    def check_text(value: object, name: str, limit: int) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{name} must be a non-blank string")
        if len(value) > limit:
            raise ToolError(f"{name} has {len(value)} characters; the limit is {limit}")
        return value

    @server.tool(description="Store one memory (a fact, note or event) and return its id (the existing id when "
                             "the same text is already stored); created_at: when it happened, epoch seconds or "
                             "ISO 8601 (default now).")
    def remember(text: str, metadata: dict[str, Any] | None = None,
                 created_at: float | str | None = None) -> dict[str, Any]:
        check_text(text, "text", m.MAX_TEXT_CHARS)
        try:
            meta = m._check_metadata(metadata)
            ids = memory.add([text], metadata=[meta], namespace=namespace, created_at=created_at)
        except (HHMemError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        return {"id": ids[0], "namespace": namespace}

    @server.tool(description="Recall the k stored memories that best match a query (hops > 0: follow associations; "
                             "where: metadata equality filter {key: scalar}; since/until: only memories created "
                             "in that window, epoch seconds, ISO 8601 or a duration before now like \"7d\"; "
                             "min_score: drop results scoring below it).")
    def recall(query: str, k: int = 5, hops: int = 0, where: dict[str, Any] | None = None,
               since: float | str | None = None, until: float | str | None = None,
               min_score: float | None = None) -> dict[str, Any]:
        check_text(query, "query", m.MAX_QUERY_CHARS)
        if not 1 <= k <= m.MAX_K:
            raise ToolError(f"k must be between 1 and {m.MAX_K}, got {k}")
        if not 0 <= hops <= m.MAX_HOPS:
            raise ToolError(f"hops must be between 0 and {m.MAX_HOPS}, got {hops}")
        if hops and not multi_hop:
            raise ToolError("hops > 0 needs the associative memory, which this server does not have; use hops=0")
        kwargs: dict[str, Any] = {"namespace": namespace, "where": where, "since": since, "until": until,
                                  "min_score": min_score}
        if multi_hop:
            kwargs["hops"] = hops
        try:
            results = memory.search(query, k, **kwargs)
        except NotFoundError:
            results = []  # nothing remembered in this namespace yet
        except HHMemError as exc:
            raise ToolError(str(exc)) from None
        return {"results": [
            {"id": r.id, "score": r.score, "text": r.text, "metadata": r.metadata, "hop": r.hop, "path": r.path,
             "via": r.via, "created_at": r.created_at}
            for r in results if r.namespace == namespace
        ]}

    @server.tool(description="Correct one memory by id: new text (re-encoded) and/or new metadata (replaces it).")
    def update(id: int, text: str | None = None,  # noqa: A002 - the tool's argument name is part of its schema
               metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        if text is None and metadata is None:
            raise ToolError("update needs text and/or metadata")
        if text is not None:
            check_text(text, "text", m.MAX_TEXT_CHARS)
        try:
            rec = memory.get(id)
            if rec.namespace != namespace:
                raise NotFoundError(f"memory {id} not found")
            memory.update(id, text=text, metadata=m._check_metadata(metadata))
            rec = memory.get(id)
        except NotFoundError:
            raise ToolError(f"memory {id} not found in namespace {namespace!r}") from None
        except (HHMemError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        return {"id": rec.id, "text": rec.text, "metadata": rec.metadata, "created_at": rec.created_at,
                "updated_at": rec.updated_at}

    @server.tool(description="Delete one memory by the id that remember or recall gave.")
    def forget(id: int) -> dict[str, Any]:  # noqa: A002 - the tool's argument name is part of its schema
        if not 1 <= id <= m.MAX_ID:
            raise ToolError(f"id must be a positive memory id, got {id}")
        deleted = memory.delete([id], namespace=namespace)
        if not deleted:
            raise ToolError(f"memory {id} not found in namespace {namespace!r}")
        return {"deleted": True, "id": id}

    return server


#: JSON-RPC 2.0 error codes.
PARSE_ERROR, INVALID_REQUEST = -32700, -32600


def bad_request(line: str) -> tuple[int | str | None, int, str] | None:
    """``(id, code, message)`` of the JSON-RPC error a line deserves, or None when it is a
    well-formed message for the MCP session. The SDK drops the lines answered here without a
    reply (malformed JSON, a request of the wrong shape, text holding a lone surrogate), leaving
    the client to wait for its own timeout."""
    import mcp.types as types

    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return None, PARSE_ERROR, f"Parse error: not valid JSON ({exc})"
    rid = obj.get("id") if isinstance(obj, dict) else None
    rid = rid if isinstance(rid, (int, str)) and not isinstance(rid, bool) else None
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return rid, INVALID_REQUEST, "Invalid Request: the message holds a lone surrogate (not valid Unicode text)"
    try:
        types.jsonrpc_message_adapter.validate_python(obj, by_name=False)
    except Exception as exc:  # pydantic's ValidationError, or anything else the SDK would drop
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return rid, INVALID_REQUEST, f"Invalid Request: not a JSON-RPC 2.0 message ({first})"
    return None


class _AnsweredLines:
    """The stdin lines handed to the SDK, minus the bad ones, which are answered here with a
    JSON-RPC error on the session's own write stream (so replies never interleave)."""

    def __init__(self, lines: Any) -> None:
        import anyio

        self._lines = lines
        self.write: Any = None
        self.ready = anyio.Event()

    def __aiter__(self) -> Any:
        return self._filter()

    async def _filter(self) -> Any:
        import mcp.types as types
        from mcp.shared.message import SessionMessage

        async for line in self._lines:
            if not line.strip():
                continue
            error = bad_request(line)
            if error is None:
                yield line
                continue
            rid, code, message = error
            await self.ready.wait()
            await self.write.send(SessionMessage(types.JSONRPCError(
                jsonrpc="2.0", id=rid, error=types.ErrorData(code=code, message=message))))


async def serve_stdio(server: Any, stdin: Any = None, stdout: Any = None) -> None:
    """Run ``server`` over stdio (or the given async text streams), answering every bad request."""
    import sys

    import anyio
    from mcp.server.stdio import stdio_server

    if stdin is None:  # the SDK's own wrapping of fd 0, without its claim of the descriptor
        stdin = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    lines = _AnsweredLines(stdin)
    async with stdio_server(stdin=lines, stdout=stdout) as (read_stream, write_stream):
        lines.write = write_stream
        lines.ready.set()
        low = server._lowlevel_server
        await low.run(read_stream, write_stream, low.create_initialization_options())


def run_stdio(memory: Memory, *, namespace: str = "default", warm_up: bool = True) -> None:
    """Serve over stdin/stdout until the client closes the stream; every request with an id gets
    a reply, a JSON-RPC error for malformed ones (see :func:`bad_request`). With ``warm_up``, the
    encoder and the kernels are loaded (:meth:`~hybrid.Memory.warm_up`) before the first message."""
    import anyio

    server = build_server(memory, namespace=namespace)
    if warm_up:
        memory.warm_up()
    anyio.run(serve_stdio, server)
