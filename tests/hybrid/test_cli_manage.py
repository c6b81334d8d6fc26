"""CLI memory management (in-process with click's runner): update, export/import, list --limit 0,
duplicates, created_at, --since/--until, --min-score, clear errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hybrid.cli import main

MAY_8 = 1683554160.0


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()

    def invoke(*args: str, store=None, ok: bool = True, stdin: str | None = None):
        res = runner.invoke(main, ["--store", str(store or tmp_path / "s"), "--model", "hash", *args], input=stdin)
        if ok:
            assert res.exit_code == 0, f"{args}: exit {res.exit_code}\n{res.output}\n{res.exception!r}"
        else:
            assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        return res

    return invoke


def last_json(res):
    """The JSON printed on stdout (stderr lines, mixed in by the runner, come first)."""
    text = res.stdout
    return json.loads(text[text.index("{") if text.lstrip().startswith("{") else text.index("["):])


def test_add_jsonl_times_duplicates_and_filters(run, tmp_path):
    f = tmp_path / "m.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"text": "standup notes about the release", "created_at": "2023-05-08T13:56:00Z"},
        {"text": "dinner plans with Ana", "created_at": MAY_8 + 86400 * 3},
        {"text": "standup notes about the release"},
    ]) + "\n")
    out = last_json(run("add", "--file", str(f), "--json"))
    assert out["ids"] == [1, 2, 1] and out["added"] == 2 and out["duplicates"] == 1
    again = last_json(run("add", "dinner plans with Ana", "--keep-duplicates", "--json"))
    assert again["ids"] == [3] and again["added"] == 1
    res = last_json(run("search", "standup notes", "-k", "3", "--json", "--until", "2023-05-09"))
    assert [r["id"] for r in res] == [1] and res[0]["created_at"] == MAY_8
    res = last_json(run("search", "standup notes", "-k", "3", "--json", "--since", "2023-05-10"))
    assert {r["id"] for r in res} == {2, 3}
    res = last_json(run("search", "standup notes about the release", "-k", "3", "--json", "--min-score", "0.9"))
    assert [r["id"] for r in res] == [1]
    assert "--created-at must be" in run("add", "x", "--created-at", "someday", ok=False).output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "created_at": "next week"}\n')
    assert "bad.jsonl:1: created_at" in run("add", "--file", str(bad), ok=False).output
    assert "since must be" in run("search", "x", "--since", "last tuesday", ok=False).output


def test_update_list_all_export_import(run, tmp_path):
    run("add", *[f"note {i}" for i in range(25)], "-n", "work")
    run("link", "1", "2")
    run("update", "3", "--text", "note three, edited", "-m", "k=1", "-m", '{"tags": ["a"]}')
    rec = last_json(run("get", "3", "--json"))
    assert rec["text"] == "note three, edited" and rec["metadata"] == {"k": 1, "tags": ["a"]}
    run("update", "3", "-m", "j=2")
    assert last_json(run("get", "3", "--json"))["metadata"] == {"k": 1, "tags": ["a"], "j": 2}
    run("update", "3", "-m", "only=1", "--replace-metadata")
    assert last_json(run("get", "3", "--json"))["metadata"] == {"only": 1}
    assert "nothing to update" in run("update", "3", ok=False).output
    assert "not found" in run("update", "99", "--text", "x", ok=False).output
    assert "JSON object" in run("update", "3", "-m", "{oops", ok=False).output

    assert len(last_json(run("list", "--json"))) == 20
    assert len(last_json(run("list", "--limit", "0", "--json"))) == 25
    assert len(last_json(run("list", "--all", "--json"))) == 25

    dump = tmp_path / "dump.jsonl"
    run("export", "--out", str(dump))
    lines = dump.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "hhmem-export" and len(lines) == 1 + 25 + 1
    other = tmp_path / "other"
    res = last_json(run("import", str(dump), "--json", store=other))
    assert res["added"] == 25 and res["links"] == 1 and res["ids"]["3"] == 3
    assert last_json(run("get", "3", "--json", store=other))["metadata"] == {"only": 1}
    res = last_json(run("import", str(dump), "--json", store=other))
    assert res["added"] == 0 and res["duplicates"] == 25
    stdout_export = run("export", "-n", "work", store=other).stdout
    assert stdout_export.splitlines()[0].startswith('{"format": "hhmem-export"')
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    assert "junk.jsonl:1: not valid JSON" in run("import", str(junk), store=other, ok=False).output
    assert "No such file" in run("import", str(tmp_path / "missing.jsonl"), store=other, ok=False).output


def test_stats_shows_bytes(run):
    run("add", "one memory", "another memory")
    st = last_json(run("stats", "--json"))
    assert st["bytes"]["disk"]["keys"] > 0 and st["bytes"]["memory"]["keys"] == 2 * 64 * 4
