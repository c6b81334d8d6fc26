"""``hhmem bench locomo-assoc``: what multi-hop search and each key kind add on LoCoMo, through the eval harness.

Every variant ingests each conversation turn by turn, session by session
(``Memory.add(session_turns, sequence=True)``), so order links join consecutive turns of a
session and entity links join turns sharing a rare name, number or key phrase. Variants differ
only in the hops of the search, the link sources and the generated key kinds; the scoring is
the evaluation harness's (turn-level evidence recall per question category).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..associative import AssociativeConfig
from ..linking import LinkConfig
from ..memory import Memory


def variants() -> list[tuple[str, dict[str, Any]]]:
    """(name, options) of the measured variants; ``hops`` 0 is single-hop recall."""
    both = LinkConfig(order=True, entities=True)
    order = LinkConfig(order=True, entities=False)
    entity = LinkConfig(order=False, entities=True)
    out: list[tuple[str, dict[str, Any]]] = [
        ("single-hop", {"hops": 0}),
        ("hops=1 order+entity", {"hops": 1, "links": both}),
        ("hops=2 order+entity", {"hops": 2, "links": both}),
        ("hops=2 order", {"hops": 2, "links": order}),
        ("hops=2 entity", {"hops": 2, "links": entity}),
    ]
    for kind in ("question", "keyphrase", "sentence", "stripped", "all"):
        out.append((f"keys={kind}", {"hops": 0, "cue_keys": kind}))
    out.append(("keys=all hops=2", {"hops": 2, "cue_keys": "all", "links": both}))
    return out


def make_methods(encoder: Any, selected: list[str] | None = None, assoc: AssociativeConfig | None = None) -> list[Any]:
    from ..eval.methods import Method

    class AssocVariant(Method):
        def __init__(self, name: str, opts: dict[str, Any]) -> None:
            self.name, self.opts = name, opts

        def config(self) -> dict[str, Any]:
            o = self.opts
            return {"hops": o.get("hops", 0), "links": (o.get("links") or LinkConfig()).to_dict(),
                    "cue_keys": o.get("cue_keys", ""), "associative": (assoc or AssociativeConfig()).to_dict()}

        def rank(self, part, depth: int) -> list[list[int]]:
            if not part.docs or not part.queries:
                return [[] for _ in part.queries]
            folder = Path(tempfile.mkdtemp(prefix="hhmem-assoc-eval-"))
            try:
                mem = Memory.open(folder / "store", encoder=encoder, device="cpu", associative=assoc,
                                  links=self.opts.get("links"), cue_keys=self.opts.get("cue_keys", ()))
                try:
                    ids: list[int] = []
                    start = 0
                    docs = part.docs
                    while start < len(docs):  # one add per session: order links stay inside it
                        end = start
                        while end < len(docs) and docs[end].group == docs[start].group:
                            end += 1
                        ids += mem.add([d.text for d in docs[start:end]], sequence=True,
                                       metadata=[{"doc": d.id, "session": d.group} for d in docs[start:end]])
                        start = end
                    pos = {mid: p for p, mid in enumerate(ids)}
                    d = min(depth, len(docs))
                    _, found = mem.search_ids([q.text for q in part.queries], d, hops=self.opts.get("hops", 0))
                finally:
                    mem.close()
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return [[pos[int(i)] for i in row if int(i) in pos] for row in np.asarray(found)]

    return [AssocVariant(n, o) for n, o in variants() if selected is None or n in selected]


def run_locomo_assoc(file: str, out: str | Path, *, ks: list[int], conversations: list[int] | None,
                     selected: list[str] | None, model: str, cache_dir: str, progress: bool) -> dict[str, Any]:
    """Evaluate the variants on a LoCoMo file with the eval harness; writes JSON + Markdown + PNG to ``out``."""
    from ..encoder import load_encoder
    from ..eval.cache import CachedEncoder
    from ..eval.cli import turn_scorer
    from ..eval.locomo import load_locomo
    from ..eval.report import evaluate, markdown, write_report

    enc = CachedEncoder(load_encoder(model), cache_dir, progress_min=256 if progress else None)
    es = load_locomo(file, conversations=conversations)
    methods = make_methods(enc, selected)
    primary = "turn/recall_all@10" if 10 in ks else f"turn/recall_all@{ks[0]}"
    report = evaluate(es, methods, turn_scorer(ks), depth=max(ks), primary=primary, progress=progress,
                      config={"model": enc.name, "file": str(file), "ks": ks, "seed": 0})
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    paths = write_report(report, outp / "locomo_assoc.json")
    report["paths"] = {k: str(v) for k, v in paths.items()}
    report["markdown"] = markdown(report)
    return report
