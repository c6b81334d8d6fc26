"""Servers load the encoder and the kernels before they accept requests, /healthz says when they
are ready, and /docs works without internet (issue 17)."""

from __future__ import annotations

import re

import pytest

from hybrid import Memory
from hybrid.encoder import LazyEncoder

pytest.importorskip("fastapi")


def test_http_server_warms_up_before_requests_and_reports_ready(tmp_path):
    from fastapi.testclient import TestClient

    from hybrid.service.api import create_app

    lazy = LazyEncoder("hash-32", name="hash-32", dim=32)
    with Memory.open(tmp_path / "s", encoder=lazy, device="cpu") as mem:
        app = create_app(mem)
        assert not lazy.loaded
        with TestClient(app) as client:
            assert lazy.loaded, "the encoder must be loaded before the first request"
            health = client.get("/healthz").json()
            assert health["ready"] is True and set(health["warm_up_s"]) == {"encoder", "search", "associations"}


def test_mcp_server_warms_up_before_serving(tmp_path, monkeypatch):
    pytest.importorskip("mcp")
    from hybrid.service import mcp_server

    events = []

    async def fake_serve(server, stdin=None, stdout=None):  # stands in for the stdio loop
        events.append(("run", lazy.loaded))

    monkeypatch.setattr(mcp_server, "build_server", lambda memory, namespace: object())
    monkeypatch.setattr(mcp_server, "serve_stdio", fake_serve)
    lazy = LazyEncoder("hash-32", name="hash-32", dim=32)
    with Memory.open(tmp_path / "s", encoder=lazy, device="cpu") as mem:
        mcp_server.run_stdio(mem)
    assert events == [("run", True)], "the encoder must be loaded before the server reads its first message"


def test_docs_page_works_offline(api_client):
    r = api_client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "/openapi.json" in page
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not external, f"/docs loads assets from elsewhere: {external}"
    assert "cdn" not in page.lower()
