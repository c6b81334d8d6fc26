"""Loader for LoCoMo (Maharana et al., ACL 2024) in the official ``locomo10.json`` format.

The file is a JSON list of samples. Each sample has ``conversation`` (``speaker_a``, ``speaker_b``,
``session_<n>``: a list of turns ``{speaker, dia_id, text[, blip_caption]}``, and
``session_<n>_date_time``) and ``qa``: ``{question, answer | adversarial_answer, evidence,
category}`` with evidence turn ids ``"D<session>:<turn>"``.

One memory per turn: ``"<speaker>: <text>"``, and when the turn shares an image, its caption is
appended as ``" [shares a photo: <caption>]"``. The speaker, session number, session date and the
turn's position are kept in :attr:`Doc.meta`; ``meta["time"]`` is the session date as epoch seconds
(``"1:56 pm on 8 May, 2023"`` read as UTC; ``None`` when absent or unreadable), stored as the
memory's ``created_at`` by the evaluation.

Evidence is parsed defensively: each string is split on ``;``/``,``/whitespace; ``"D<s>:<t>"`` is
taken as is (leading zeros dropped: ``"D30:05"`` is ``D30:5``); ``"D:11:26"``-like strings with
exactly two numbers are *repaired* to ``D11:26``; anything else (``"D"``) is *malformed*; an id
naming no turn of the conversation is *unknown*. Those are dropped and counted; a question left
with no evidence is skipped and counted (``skipped`` in the :class:`~hybrid.eval.EvalSet`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..times import parse_dataset_date
from . import Doc, EvalSet, Partition, Query

#: Official category numbers and their names.
CATEGORIES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}

_STRICT = re.compile(r"^D(\d+):(\d+)$")
_LENIENT = re.compile(r"^D\D*?(\d+)\D+(\d+)$")
_SESSION = re.compile(r"^session_(\d+)$")


def parse_evidence(raw: object) -> tuple[list[str], Counter]:
    """Evidence entries to canonical ``"D<s>:<t>"`` ids, with counts of what was repaired/dropped.

    Example:
        >>> ids, c = parse_evidence(["D8:6; D9:17", "D", "D:11:26", "D30:05"])
        >>> ids, dict(c)
        (['D8:6', 'D9:17', 'D11:26', 'D30:5'], {'split': 1, 'malformed': 1, 'repaired': 1})
    """
    counts: Counter = Counter()
    out: list[str] = []
    if raw is None:
        return out, counts
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Sequence) else [str(raw)]
    for item in items:
        parts = [p for p in re.split(r"[;,\s]+", str(item).strip()) if p]
        if len(parts) > 1:
            counts["split"] += 1
        for part in parts:
            m = _STRICT.match(part)
            if m is None:
                m = _LENIENT.match(part)
                if m is None:
                    counts["malformed"] += 1
                    continue
                counts["repaired"] += 1
            cid = f"D{int(m.group(1))}:{int(m.group(2))}"
            if cid not in out:
                out.append(cid)
    return out, counts


def turn_text(turn: dict[str, Any]) -> str:
    """The indexed text of one turn: ``"<speaker>: <text>"`` plus the shared photo's caption."""
    text = f"{turn.get('speaker', '?')}: {str(turn.get('text', '')).strip()}"
    caption = turn.get("blip_caption")
    if caption:
        text += f" [shares a photo: {str(caption).strip()}]"
    return text


def sessions_of(conversation: dict[str, Any]) -> list[tuple[int, str, list[dict]]]:
    """``(session number, date string, turns)`` in session order."""
    out = []
    for key, value in conversation.items():
        m = _SESSION.match(key)
        if m and isinstance(value, list):
            n = int(m.group(1))
            out.append((n, str(conversation.get(f"session_{n}_date_time", "")), value))
    return sorted(out, key=lambda s: s[0])


def load_locomo(path: str | Path, *, conversations: Sequence[int] | None = None) -> EvalSet:
    """Read a ``locomo10.json``-format file into one partition per conversation.

    Args:
        path: the JSON file.
        conversations: 0-based indices of the conversations to keep (default: all).

    Raises:
        InvalidInputError: unreadable file, wrong structure, or a conversation index out of range.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"LoCoMo file {p}: cannot read it as JSON ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(s, dict) and "conversation" in s and "qa" in s for s in data):
        raise InvalidInputError(f"LoCoMo file {p}: expected a JSON list of samples with 'conversation' and 'qa'")
    chosen = list(range(len(data))) if conversations is None else list(conversations)
    for c in chosen:
        if not 0 <= c < len(data):
            raise InvalidInputError(f"conversations: index {c} is out of range; {p} has {len(data)} conversations")
    skipped: Counter = Counter()
    evidence_counts: Counter = Counter()
    parts = []
    for c in chosen:
        sample = data[c]
        conv = sample["conversation"]
        name = str(sample.get("sample_id", f"conv-{c}"))
        docs: list[Doc] = []
        for sn, date, turns in sessions_of(conv):
            for pos, turn in enumerate(turns):
                if not isinstance(turn, dict) or not str(turn.get("text", "")).strip():
                    skipped["empty turns"] += 1
                    continue
                tid, _ = parse_evidence([str(turn.get("dia_id", ""))])
                tid = tid[0] if tid else f"D{sn}:{pos + 1}"
                docs.append(
                    Doc(
                        id=tid,
                        text=turn_text(turn),
                        group=f"D{sn}",
                        meta={"speaker": turn.get("speaker"), "session": sn, "date": date, "position": pos,
                              "conversation": name, "time": parse_dataset_date(date)},
                    )
                )
        known = {d.id for d in docs}
        queries: list[Query] = []
        for qi, qa in enumerate(sample["qa"]):
            cat = int(qa.get("category", 0) or 0)
            ev, counts = parse_evidence(qa.get("evidence"))
            evidence_counts.update(counts)
            unknown = [e for e in ev if e not in known]
            evidence_counts["unknown turn"] += len(unknown)
            gold = [e for e in ev if e in known]
            if not gold:
                skipped[f"no usable evidence ({CATEGORIES.get(cat, cat)})"] += 1
                continue
            question = str(qa.get("question", "")).strip()
            if not question:
                skipped["empty question"] += 1
                continue
            answer = qa.get("answer", qa.get("adversarial_answer"))
            queries.append(
                Query(id=f"{name}/q{qi}", text=question, gold=gold, category=CATEGORIES.get(cat, str(cat)),
                      answer=None if answer is None else str(answer), meta={"conversation": name})
            )
        parts.append(Partition(name, docs, queries))
    return EvalSet("locomo", parts, skipped, {"evidence": dict(evidence_counts), "file": str(p),
                                               "conversations": chosen})
