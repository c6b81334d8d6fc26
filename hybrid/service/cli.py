"""``hhmem serve`` (HTTP API), ``hhmem mcp`` (MCP server over stdio) and ``hhmem serve-loadtest``."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import click

from ..cli import global_options
from ..errors import HHMemError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _root(ctx: click.Context) -> dict:
    return {"store": None, "model": "default", **(ctx.find_root().obj or {})}


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0: a free port chosen by the OS)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command()
@global_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; non-loopback needs an API key.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--api-key", envvar="HHMEM_API_KEY", default=None, help="Admin key (all namespaces) [env HHMEM_API_KEY].")
@click.option("--keys-file", envvar="HHMEM_KEYS_FILE", type=click.Path(dir_okay=False), default=None,
              help='JSON {"keys": {"<key>": ["ns", ...] | "*"}} [env HHMEM_KEYS_FILE].')
@click.option("--max-body-bytes", default=4 * 1024 * 1024, show_default=True, type=click.IntRange(1024))
@click.option("--port-file", type=click.Path(dir_okay=False), default=None,
              help="Write the bound port here once listening (useful with --port 0).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve(ctx, host, port, api_key, keys_file, max_body_bytes, port_file, log_level):
    """Run the HTTP API over a store (FastAPI + uvicorn; OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from ..pgstore import redact
    from ..store import atomic_write_text
    from .api import KeyRing, ServiceConfig, create_app

    root = _root(ctx)
    path = root["store"]
    try:
        keys = KeyRing.build(api_key=api_key, keys_file=keys_file)
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    if not is_loopback(host) and not keys.enabled:
        raise click.ClickException(
            f"refusing to serve on {host} without authentication: give --api-key or --keys-file "
            "(or bind to 127.0.0.1)"
        )
    try:
        app = create_app(path, encoder=root["model"], keys=keys, config=ServiceConfig(max_body_bytes=max_body_bytes),
                         backend=root.get("backend", "exact"))
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    if port_file:
        atomic_write_text(Path(port_file), str(bound))
    auth = f"{len(keys)} key(s)" if keys.enabled else "no authentication (loopback only)"
    click.echo(f"hhmem serving {redact(str(path))} on http://{host}:{bound} ({auth}); pid {os.getpid()}", err=True)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


@click.command()
@global_options
@click.option("--namespace", "-n", envvar="HHMEM_MCP_NAMESPACE", default="default", show_default=True,
              help="The one namespace this server reads and writes [env HHMEM_MCP_NAMESPACE].")
@click.pass_context
def mcp(ctx, namespace):
    """Run an MCP server (stdio) with remember / recall / forget tools for an agent."""
    from .api import open_memory
    from .mcp_server import run_stdio

    root = _root(ctx)
    try:
        mem = open_memory(root["store"], encoder=root["model"], backend=root.get("backend", "exact"))
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        print(f"hhmem MCP server on {mem.store.path}, namespace {namespace!r}", file=sys.stderr)
        run_stdio(mem, namespace=namespace)
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        mem.close()


@click.command("serve-loadtest")
@click.option("--clients", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--duration", default=20.0, show_default=True, type=click.FloatRange(1, 600), help="Seconds of load.")
@click.option("--max-requests", default=5000, show_default=True, type=click.IntRange(1), help="Upper bound on requests.")
@click.option("--write-fraction", default=0.3, show_default=True, type=click.FloatRange(0, 1))
@click.option("--preload", default=500, show_default=True, type=click.IntRange(0), help="Memories stored before the load.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--model", default=None, help="Encoder of the test store (default: the global --model, i.e. MiniLM).")
@click.option("--no-peer", is_flag=True, help="Skip the in-process peer run.")
@click.option("--out", type=click.Path(file_okay=False), default="reports/service_load", show_default=True)
@click.pass_context
def serve_loadtest(ctx, clients, duration, max_requests, write_fraction, preload, seed, model, no_peer, out):
    """Load-test `hhmem serve` on loopback: concurrent writes + searches, then count every acknowledged write."""
    from .loadtest import LoadConfig, run_and_report

    root = _root(ctx)
    cfg = LoadConfig(clients=clients, duration_s=duration, max_requests=max_requests,
                     write_fraction=write_fraction, preload=preload, seed=seed, model=model or root["model"],
                     peer=not no_peer)
    try:
        result = run_and_report(cfg, Path(out))
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result["summary_line"])
    if result["errors"] or result["lost_writes"]:
        ctx.exit(1)
