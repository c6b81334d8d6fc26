"""An MCP server (official ``mcp`` SDK, stdio transport) giving an agent remember / recall / forget.

One server serves one namespace of one store (chosen when it starts), so an agent can neither see
nor delete another agent's memories. The store may be open in other processes at the same time
(the HTTP API, the CLI, other MCP servers): recall sees their writes without a restart.

Tools:
    remember(text, metadata=None)   -> {"id", "namespace"}
    recall(query, k=5, hops=0, fusion=False, where=None) -> {"results": [{"id", "score", "text", "metadata", "hop", "path"}]}
    forget(id)                      -> {"deleted": true} (an error result for an id not in the namespace)

Run it with ``hhmem mcp --store PATH --namespace NAME``; see ``docs/service.md`` for an agent config.
"""

from __future__ import annotations

from typing import Any

from .._logging import quiet_library_loggers
from ..errors import HHMemError, NotFoundError
from ..memory import Memory
from ..store import validate_namespace
from . import models as m
from .api import fusion_search, supports_hops

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
            "the facts that best match a question, and `forget` to delete one by id."
        ),
        log_level="WARNING",
    )

    def check_text(value: object, name: str, limit: int) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{name} must be a non-blank string")
        if len(value) > limit:
            raise ToolError(f"{name} has {len(value)} characters; the limit is {limit}")
        return value

    @server.tool(description="Store one memory (a fact, note or event) and return its id.")
    def remember(text: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        check_text(text, "text", m.MAX_TEXT_CHARS)
        try:
            meta = m._check_metadata(metadata)
            ids = memory.add([text], metadata=[meta], namespace=namespace)
        except (HHMemError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        return {"id": ids[0], "namespace": namespace}

    @server.tool(description="Recall the k stored memories that best match a query (hops > 0: follow associations; "
                             "fusion=true: dense + keyword + query-cue fusion ranking, best for conversations; "
                             "where: metadata equality filter {key: scalar}).")
    def recall(query: str, k: int = 5, hops: int = 0, fusion: bool = False,
               where: dict[str, Any] | None = None) -> dict[str, Any]:
        check_text(query, "query", m.MAX_QUERY_CHARS)
        if not 1 <= k <= m.MAX_K:
            raise ToolError(f"k must be between 1 and {m.MAX_K}, got {k}")
        if not 0 <= hops <= m.MAX_HOPS:
            raise ToolError(f"hops must be between 0 and {m.MAX_HOPS}, got {hops}")
        if hops and not multi_hop:
            raise ToolError("hops > 0 needs the associative memory, which this server does not have; use hops=0")
        if fusion and hops:
            raise ToolError("fusion cannot be combined with hops")
        kwargs: dict[str, Any] = {"namespace": namespace, "where": where}
        if multi_hop:
            kwargs["hops"] = hops
        try:
            results = fusion_search(memory, query, k, namespace, where) if fusion else memory.search(query, k, **kwargs)
        except NotFoundError:
            results = []  # nothing remembered in this namespace yet
        except HHMemError as exc:
            raise ToolError(str(exc)) from None
        return {"results": [
            {"id": r.id, "score": r.score, "text": r.text, "metadata": r.metadata, "hop": r.hop, "path": r.path}
            for r in results if r.namespace == namespace
        ]}

    @server.tool(description="Delete one memory by the id that remember or recall gave.")
    def forget(id: int) -> dict[str, Any]:  # noqa: A002 - the tool's argument name is part of its schema
        if not 1 <= id <= m.MAX_ID:
            raise ToolError(f"id must be a positive memory id, got {id}")
        deleted = memory.delete([id], namespace=namespace)
        if not deleted:
            raise ToolError(f"memory {id} not found in namespace {namespace!r}")
        return {"deleted": True, "id": id}

    return server


def run_stdio(memory: Memory, *, namespace: str = "default", warm_up: bool = True) -> None:
    """Serve over stdin/stdout until the client closes the stream; with ``warm_up``, the encoder and
    the kernels are loaded (:meth:`~hybrid.Memory.warm_up`) before the first message is read."""
    server = build_server(memory, namespace=namespace)
    if warm_up:
        memory.warm_up()
    server.run("stdio")
