"""The memory service: an HTTP API (FastAPI) and an MCP server over one hhmem store.

``hhmem serve --store PATH`` runs the HTTP API, ``hhmem mcp --store PATH`` the MCP server (stdio).
Importing this package does not import FastAPI or the MCP SDK; import the submodules for that.
"""

from __future__ import annotations

__all__ = ["api", "cli", "loadtest", "mcp_server", "models"]
