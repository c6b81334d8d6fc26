"""The Python examples in README.md and docs/*.md are executed, so they never rot."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Documents whose examples are executed here (docs/snn.md is run by tests/snn/test_nir.py;
#: docs/loihi.md's block is a measurement script run by its own command).
DOCS = ["README.md", "docs/hopfield.md", "docs/service.md"]
pytestmark = pytest.mark.slow


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("doc", DOCS)
def test_python_examples_run(doc, tmp_path, monkeypatch):
    blocks = python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python example"
    monkeypatch.chdir(tmp_path)
    # Examples may start the `hhmem` console script: the one installed beside this interpreter.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    for code in blocks:
        exec(compile(code, str(ROOT / doc), "exec"), {"__name__": "__doc_example__"})
