"""Texts bundled with hhmem (package data), written for the project; one loader per file.

- ``demo_corpus.jsonl``: 120 memories about a fictional user, with chains of linked facts.
- ``demo_queries.json``: paraphrased questions about the demo corpus (and chain questions).
- ``paraphrase_pairs.json``: 45 ``{"fact", "question"}`` pairs, the question reworded.
- ``distractors.txt``: 260 background sentences that answer none of the questions.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def _text(name: str) -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def demo_corpus() -> list[dict[str, Any]]:
    """``[{"text", "metadata"}, ...]`` of the demo corpus, in file order."""
    return [json.loads(line) for line in _text("demo_corpus.jsonl").splitlines() if line.strip()]


def demo_queries() -> list[dict[str, Any]]:
    """``[{"query", "expected"} | {"query", "chain"}, ...]``."""
    return json.loads(_text("demo_queries.json"))


def paraphrase_pairs() -> list[dict[str, str]]:
    """``[{"fact", "question"}, ...]``."""
    return json.loads(_text("paraphrase_pairs.json"))


def distractors() -> list[str]:
    """Background sentences, one per line of ``distractors.txt``."""
    return [line.strip() for line in _text("distractors.txt").splitlines() if line.strip()]
