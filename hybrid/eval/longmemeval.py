"""Loader for LongMemEval (Wu et al., 2024) files, read unchanged, indexed as the official flat baseline.

Files: ``longmemeval_s_cleaned.json``, ``longmemeval_m_cleaned.json``, ``longmemeval_oracle.json``,
each a JSON list of questions with ``question_id``, ``question_type``, ``question``, ``answer``,
``haystack_session_ids``, ``haystack_dates``, ``haystack_sessions`` (lists of turns
``{role, content[, has_answer]}``) and ``answer_session_ids``. Every question searches its own
haystack, so each question is one :class:`~hybrid.eval.Partition`.

Indexing follows the official ``run_retrieval.py`` (re-implemented here, not copied):

- turn granularity: one document per user turn (and per assistant turn with ``with_assistant``),
  id ``<session id>_<turn index from 1>`` (the index counts all turns of the session). In a
  session whose id contains ``answer``, a turn without ``has_answer: true`` has ``answer``
  replaced by ``noans`` in its id.
- session granularity: one document per session, the indexed turns' contents joined by spaces;
  an ``answer`` session with no indexed ``has_answer`` turn is renamed ``noans``.
- the gold documents are the indexed ids that contain ``answer``.

Questions whose id contains ``_abs`` (abstention) are skipped, as the official averages skip
them; questions left without gold documents are skipped (the official runner would count them as
``recall_all = 1``); both are counted in the report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InvalidInputError
from ..times import parse_dataset_date
from . import Doc, EvalSet, Partition, Query
from .metrics import strip_turn

_REQUIRED = ("question_id", "question_type", "question", "haystack_session_ids", "haystack_sessions")


def load_longmemeval(
    path: str | Path, *, granularity: str = "turn", with_assistant: bool = False, limit: int | None = None
) -> EvalSet:
    """Read an official LongMemEval file into one partition per question.

    Args:
        path: the JSON file.
        granularity: ``"turn"`` or ``"session"``.
        with_assistant: index assistant turns too.
        limit: keep only the first ``limit`` questions of the file.
    """
    if granularity not in ("turn", "session"):
        raise InvalidInputError(f"granularity must be 'turn' or 'session', got {granularity!r}")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"limit must be >= 1, got {limit}")
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"LongMemEval file {p}: cannot read it as JSON ({exc})") from exc
    if not isinstance(data, list):
        raise InvalidInputError(f"LongMemEval file {p}: expected a JSON list of questions, got {type(data).__name__}")
    roles = ("user", "assistant") if with_assistant else ("user",)
    skipped: Counter = Counter()
    parts: list[Partition] = []
    mismatch = 0
    for n, entry in enumerate(data[:limit] if limit else data):
        missing = [f for f in _REQUIRED if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise InvalidInputError(f"LongMemEval file {p}: question #{n} lacks {', '.join(missing)}")
        qid = str(entry["question_id"])
        if "_abs" in qid:
            skipped["abstention (_abs)"] += 1
            continue
        dates = entry.get("haystack_dates") or [""] * len(entry["haystack_session_ids"])
        docs: list[Doc] = []
        for sid, date, turns in zip(entry["haystack_session_ids"], dates, entry["haystack_sessions"]):
            sid = str(sid)
            answer_session = "answer" in sid
            if granularity == "turn":
                for i, turn in enumerate(turns):
                    if turn.get("role") not in roles:
                        continue
                    content = str(turn.get("content", ""))
                    if not content.strip():
                        skipped["empty turns"] += 1
                        continue
                    tid = f"{sid}_{i + 1}"
                    if answer_session and not turn.get("has_answer", False):
                        tid = tid.replace("answer", "noans")
                    docs.append(Doc(tid, content, strip_turn(tid), {"role": turn.get("role"), "date": date,
                                                                       "time": parse_dataset_date(date)}))
            else:
                chosen = [t for t in turns if t.get("role") in roles]
                text = " ".join(str(t.get("content", "")) for t in chosen)
                if not text.strip():
                    skipped["empty sessions"] += 1
                    continue
                did = sid
                if answer_session and not any(t.get("has_answer", False) for t in chosen):
                    did = sid.replace("answer", "noans")
                docs.append(Doc(did, text, did, {"date": date, "time": parse_dataset_date(date)}))
        gold = sorted({d.id for d in docs if "answer" in d.id})
        gold_sessions = {d.group for d in docs if "answer" in d.id}
        if "answer_session_ids" in entry and not gold_sessions <= {str(s) for s in entry["answer_session_ids"]}:
            mismatch += 1  # the substring rule and answer_session_ids disagree (never on official files)
        if not gold:
            skipped["no evidence in indexed turns"] += 1
            continue
        q = Query(qid, str(entry["question"]), gold, category=str(entry["question_type"]),
                  answer=str(entry.get("answer", "")), meta={"question_date": entry.get("question_date")})
        parts.append(Partition(qid, docs, [q]))
    return EvalSet("longmemeval", parts, skipped, {"file": str(p), "granularity": granularity,
                                                    "with_assistant": with_assistant,
                                                    "gold_not_in_answer_session_ids": mismatch})


def answer_in_retrieved(ks: Sequence[int] = (5, 10)) -> Callable[[Partition, Query, list[int]], dict[str, float]]:
    """``answer_in_top@k``: 1 when the gold answer string occurs (case-insensitive) in the top-k texts."""
    def measure(part: Partition, q: Query, ranking: list[int]) -> dict[str, float]:
        ans = (q.answer or "").strip().lower()
        out = {}
        for k in ks:
            text = " ".join(part.docs[p].text for p in ranking[:k]).lower()
            out[f"answer_in_top@{k}"] = float(bool(ans) and ans in text)
        return out
    return measure
