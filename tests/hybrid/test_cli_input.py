"""Bad input on the command line: one clear error line and exit status 1, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hybrid.cli import MAX_LINE_CHARS, main

HUGE = str(2**80)
LONE = "\udcff"  # what Python makes of the byte 0xff in a command-line argument


@pytest.fixture
def run(tmp_path):
    store = tmp_path / "s"

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(main, ["--store", str(store), "--model", "hash", *args], input=input)

    assert invoke("add", "the red kettle", "a blue door").exit_code == 0
    return invoke


def _assert_clean_error(result, *needles: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and result.output.startswith("Error: "), result.output
    for needle in needles:
        assert needle in result.output, result.output


@pytest.mark.parametrize("args", [
    ("get", HUGE), ("delete", HUGE), ("link", "1", HUGE), ("list", "--limit", HUGE), ("list", "--offset", HUGE),
    ("search", "kettle", "-w", f"n={HUGE}"),
])
def test_integers_beyond_64_bits(run, args):
    _assert_clean_error(run(*args), "64-bit")


@pytest.mark.parametrize("args", [
    ("add", f"bad {LONE} text"), ("search", f"kettle{LONE}"), ("add", "ok text", "-m", f"k=v{LONE}"),
    ("search", "kettle", "-w", f"k={LONE}"),
])
def test_lone_surrogates_in_arguments(run, args):
    _assert_clean_error(run(*args), "surrogate")


def test_lone_surrogate_in_jsonl_metadata_is_refused(run, tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"text": "fine", "metadata": {"k": "\\udcff"}}\n', encoding="utf-8")
    _assert_clean_error(run("add", "--file", str(path)), "surrogate")
    listed = run("list", "--json")
    assert listed.exit_code == 0 and [r["text"] for r in json.loads(listed.output)] == ["the red kettle", "a blue door"]


def test_deeply_nested_metadata(run, tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"text": "x", "metadata": {"k": ' + "[" * 5000 + "]" * 5000 + "}}\n")
    _assert_clean_error(run("add", "--file", str(deep)), "nested too deeply")
    nested = tmp_path / "nested.jsonl"
    nested.write_text('{"text": "x", "metadata": {"k": ' + "[" * 100 + "]" * 100 + "}}\n")
    _assert_clean_error(run("add", "--file", str(nested)), "nested more than")


def test_line_without_newline_is_bounded(run, tmp_path):
    """A line longer than MAX_LINE_CHARS is refused after reading that many characters
    (``add --file /dev/zero`` used to read until memory ran out)."""
    path = tmp_path / "long.txt"
    path.write_text("x" * (MAX_LINE_CHARS + 10))
    _assert_clean_error(run("add", "--file", str(path)), "line longer than")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero(run):
    _assert_clean_error(run("add", "--file", "/dev/zero"), "line longer than")


@pytest.mark.slow
def test_non_utf8_argument_bytes_in_a_real_process(tmp_path):
    """The bytes reach Python through argv (decoded with surrogateescape), not through CliRunner."""
    cmd = [sys.executable.encode(), b"-m", b"hybrid.cli", b"--store", str(tmp_path / "s").encode(), b"--model",
           b"hash", b"add", b"caf\xe9 au lait"]
    proc = subprocess.run(cmd, capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr and b"surrogate" in proc.stderr, proc.stderr
