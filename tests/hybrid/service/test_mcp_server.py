"""`hhmem mcp` answers every request that has an id, malformed ones with a JSON-RPC error."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

pytest.importorskip("mcp")

from hybrid.service.mcp_server import INVALID_REQUEST, PARSE_ERROR, bad_request  # noqa: E402

#: Seconds the whole stdio exchange may take (start-up included).
EXCHANGE_TIMEOUT_S = 120
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
# (raw line, id of the reply, JSON-RPC error code)
BAD = [
    (b"{not json", None, PARSE_ERROR),
    (b'{"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {"name": "remember", '
     b'"arguments": {"text": "a\\udcff"}}}', 11, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 12, "method": "tools/list", "params": "\\ud800"}', 12, INVALID_REQUEST),
    (b'{"id": 13, "method": "tools/list"}', 13, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 14}', 14, INVALID_REQUEST),
    (b"[1, 2]", None, INVALID_REQUEST),
    (b'"just a string"', None, INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 15, "method": "tools/list", "params": ' + b"[" * 5000 + b"]" * 5000 + b"}",
     None, PARSE_ERROR),
    (b'{"jsonrpc": "2.0", "id": 16, "method": "no/such/method"}', 16, -32601),
]


@pytest.mark.parametrize("line, rid, code", [b for b in BAD if b[2] != -32601])
def test_bad_request_classifies_lines(line, rid, code):
    got = bad_request(line.decode())
    assert got is not None and got[:2] == (rid, code), got


def test_good_lines_pass():
    assert bad_request(json.dumps(INIT)) is None
    assert bad_request('{"jsonrpc": "2.0", "method": "notifications/initialized"}') is None


@pytest.mark.slow
def test_every_bad_request_gets_a_reply_over_stdio(tmp_path, mcp_command):
    exe, args, env = mcp_command(tmp_path / "store", "agent")
    lines = [json.dumps(INIT).encode(), b'{"jsonrpc": "2.0", "method": "notifications/initialized"}']
    lines += [b[0] for b in BAD] + [b'{"jsonrpc": "2.0", "id": 99, "method": "tools/list"}']
    proc = subprocess.Popen([exe, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(b"\n".join(lines) + b"\n")
        proc.stdin.flush()
        replies = []  # stdin stays open until every reply is in: the server answers before EOF
        timer = threading.Timer(EXCHANGE_TIMEOUT_S, proc.kill)
        timer.start()
        while len(replies) < len(BAD) + 2 and (raw := proc.stdout.readline()):
            replies.append(json.loads(raw))
        timer.cancel()
    finally:
        proc.stdin.close()
        proc.wait(30)
    errors = sorted(((r["id"] or 0), r["error"]["code"]) for r in replies if "error" in r)
    assert errors == sorted(((rid or 0), code) for _, rid, code in BAD), (errors, proc.stderr.read()[-2000:])
    results = {r["id"]: r["result"] for r in replies if "result" in r}
    assert set(results) == {0, 99} and "tools" in results[99]
