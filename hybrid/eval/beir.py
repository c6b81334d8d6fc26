"""Loader for a BEIR-layout folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

- ``corpus.jsonl``: one JSON object per line with ``_id``, ``title``, ``text``; the indexed text is
  ``title + " " + text`` (title omitted when empty), as BEIR's dense models see it.
- ``queries.jsonl``: ``_id``, ``text``.
- ``qrels/<split>.tsv``: tab-separated ``query-id``, ``corpus-id``, ``score`` with a header line;
  ``score > 0`` is relevant and is the graded gain of nDCG.

Queries without a relevant document, and qrels naming unknown queries or documents, are skipped
and counted. The whole corpus is one partition.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from ..errors import InvalidInputError
from . import Doc, EvalSet, Partition, Query


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise InvalidInputError(f"BEIR folder: {path} is missing")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{n}: not valid JSON ({exc})") from exc
            if not isinstance(obj, dict) or "_id" not in obj:
                raise InvalidInputError(f"{path}:{n}: expected an object with '_id'")
            rows.append(obj)
    return rows


def load_beir(folder: str | Path, *, split: str = "test") -> EvalSet:
    """Read a BEIR folder into one partition (the corpus) with the split's judged queries."""
    root = Path(folder)
    skipped: Counter = Counter()
    docs = []
    for row in _jsonl(root / "corpus.jsonl"):
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "").strip()
        full = f"{title} {text}".strip() if title else text
        if not full:
            skipped["empty documents"] += 1
            continue
        docs.append(Doc(str(row["_id"]), full, str(row["_id"]), {"title": title}))
    queries = {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(root / "queries.jsonl")}
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InvalidInputError(f"BEIR folder: {qrels_path} is missing (split={split!r})")
    known = {d.id for d in docs}
    gains: dict[str, dict[str, float]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            if not row or (n == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # header or blank line
            if len(row) < 3:
                raise InvalidInputError(f"{qrels_path}:{n}: expected query-id, corpus-id, score; got {row!r}")
            qid, did = row[0].strip(), row[1].strip()
            try:
                score = float(row[2])
            except ValueError as exc:
                raise InvalidInputError(f"{qrels_path}:{n}: score {row[2]!r} is not a number") from exc
            if qid not in queries:
                skipped["qrels of unknown queries"] += 1
                continue
            if did not in known:
                skipped["qrels of unknown documents"] += 1
                continue
            gains.setdefault(qid, {})[did] = score
    qs = []
    for qid, g in gains.items():
        gold = sorted(d for d, s in g.items() if s > 0)
        if not gold or not queries[qid].strip():
            skipped["queries without a relevant document"] += 1
            continue
        qs.append(Query(qid, queries[qid], gold, gains={d: s for d, s in g.items() if s > 0}))
    if not qs:
        raise InvalidInputError(f"BEIR folder {root}: no query of split {split!r} has a relevant document")
    return EvalSet("beir", [Partition(root.name, docs, qs)], skipped, {"file": str(root), "split": split})
