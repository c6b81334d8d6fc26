"""Retrieval metrics: LongMemEval's official definitions, and the standard BEIR/TREC ones.

A *ranking* is a list of corpus positions, best first (it may be shorter than the corpus).
``corpus_ids[p]`` is the document id at position ``p``; several positions may share an id
(turn-to-session mapping).

LongMemEval (``src/retrieval/eval_utils.py`` of the official repository), re-implemented:

- ``recall_any@k = 1`` if any gold id is among the ids of the first ``k`` ranked positions.
- ``recall_all@k = 1`` if every gold id is (vacuously 1 when there is no gold id: the official
  runner keeps such questions; hhmem's loaders skip and count them instead).
- Their DCG does *not* use the textbook ``log2(i+2)`` discount. With 0-based position ``i``:

  .. math::
      \\mathrm{DCG}_k(r) = r_0 + \\sum_{i=1}^{\\min(k,|r|)-1} \\frac{r_i}{\\log_2(i+1)}

  so the first two positions both have weight 1. ``r`` is the 0/1 relevance of each ranked
  *position* (a corpus entry is relevant when its id is gold), and the ideal DCG sorts the
  relevances of the whole corpus (every entry, duplicates included):

  .. math::
      \\mathrm{NDCG}_k = \\mathrm{DCG}_k(r_{ranked}) / \\mathrm{DCG}_k(\\mathrm{sort}_\\downarrow(r_{corpus}))

  (0 when the ideal DCG is 0).
- Turn-to-session: ids ``<session>_<turn>`` lose their last ``_`` field; ``k`` grows until the
  first ``k'`` ranked positions hold ``k`` distinct sessions (or the corpus ends), and the three
  metrics are computed at ``k'`` on the session ids.

BEIR (as pytrec_eval / trec_eval compute them):

.. math::
    \\mathrm{nDCG}@k = \\frac{\\sum_{i=1}^{k} g(d_i)/\\log_2(i+1)}{\\sum_{i=1}^{k} g^*_i/\\log_2(i+1)}, \\qquad
    \\mathrm{MRR}@k = \\frac{1}{\\min\\{i \\le k : g(d_i) > 0\\}}

with graded gains ``g`` from the qrels (``g^*`` sorted descending) and MRR 0 without a hit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence

#: The cut-offs of the official LongMemEval retrieval evaluation.
LONGMEMEVAL_KS: tuple[int, ...] = (1, 3, 5, 10, 30, 50)


def recall_any_all(ranked_ids: Sequence[Hashable], gold: Iterable[Hashable], k: int) -> tuple[float, float]:
    """``(recall_any@k, recall_all@k)`` of ids ranked best first (duplicates allowed)."""
    top = set(ranked_ids[:k])
    gold = list(gold)
    return float(any(g in top for g in gold)), float(all(g in top for g in gold))


def recall_fraction(ranked_ids: Sequence[Hashable], gold: Iterable[Hashable], k: int) -> float:
    """``recall@k``: the share of the gold ids among the first ``k`` ranked ids (LoCoMo's evidence
    recall; HippoRAG's R@k for passages). 0 when there is no gold id.

    Example:
        >>> recall_fraction(["a", "x", "b"], ["a", "b", "c", "d"], 2)
        0.25
    """
    gold = set(gold)
    return len(gold & set(ranked_ids[:k])) / len(gold) if gold else 0.0


def official_dcg(relevances: Sequence[float], k: int) -> float:
    """LongMemEval's DCG: ``r_0 + Σ_{i≥1} r_i / log2(i+1)`` over the first ``k`` entries."""
    rel = list(relevances)[:k]
    if not rel:
        return 0.0
    return float(rel[0]) + sum(float(r) / math.log2(i + 1) for i, r in enumerate(rel) if i >= 1)


def official_ndcg(ranking: Sequence[int], gold: Iterable[Hashable], corpus_ids: Sequence[Hashable], k: int) -> float:
    """LongMemEval's NDCG@k (see the module docstring)."""
    gold = set(gold)
    relevances = [1.0 if cid in gold else 0.0 for cid in corpus_ids]
    ideal = official_dcg(sorted(relevances, reverse=True), k)
    if ideal == 0:
        return 0.0
    return official_dcg([relevances[p] for p in ranking[:k]], k) / ideal


def official_evaluate(
    ranking: Sequence[int], gold: Iterable[Hashable], corpus_ids: Sequence[Hashable], k: int
) -> tuple[float, float, float]:
    """``(recall_any, recall_all, ndcg_any)`` at ``k``, as LongMemEval's ``evaluate_retrieval``."""
    gold = list(gold)
    any_, all_ = recall_any_all([corpus_ids[p] for p in ranking], gold, k)
    return any_, all_, official_ndcg(ranking, gold, corpus_ids, k)


def strip_turn(doc_id: str) -> str:
    """``"answer_ab12_3"`` -> ``"answer_ab12"`` (drop the last ``_`` field)."""
    return "_".join(str(doc_id).split("_")[:-1])


def grouped_evaluate(
    ranking: Sequence[int], gold_groups: Iterable[Hashable], group_ids: Sequence[Hashable], k: int
) -> tuple[float, float, float]:
    """Item-level results evaluated at group level (turns -> sessions), LongMemEval's way.

    ``k`` grows to the smallest ``k'`` whose first ``k'`` ranked positions hold ``k`` distinct
    groups (or to the corpus size), then :func:`official_evaluate` runs at ``k'`` on group ids.
    """
    gold = sorted(set(gold_groups), key=str)
    eff = k
    while eff <= len(group_ids) and len({group_ids[p] for p in ranking[:eff]}) < k:
        eff += 1
    return official_evaluate(ranking, gold, group_ids, eff)


def official_turn_to_session(
    ranking: Sequence[int], gold: Iterable[str], corpus_ids: Sequence[str], k: int
) -> tuple[float, float, float]:
    """Turn results evaluated as sessions, as LongMemEval's ``evaluate_retrieval_turn2session``."""
    return grouped_evaluate(ranking, [strip_turn(g) for g in gold], [strip_turn(c) for c in corpus_ids], k)


def ndcg_at_k(ranked_ids: Sequence[Hashable], qrels: Mapping[Hashable, float], k: int = 10) -> float:
    """TREC/BEIR nDCG@k with graded gains and ``log2(rank + 1)`` discount (rank from 1)."""
    dcg = sum(float(qrels.get(d, 0.0)) / math.log2(i + 2) for i, d in enumerate(ranked_ids[:k]))
    gains = sorted((float(g) for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranked_ids: Sequence[Hashable], qrels: Mapping[Hashable, float], k: int = 10) -> float:
    """Reciprocal rank of the first relevant (gain > 0) id within the first ``k``, else 0."""
    for i, d in enumerate(ranked_ids[:k]):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, ``None`` for no values (reported as empty, never as 0)."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def aggregate(rows: Sequence[Mapping[str, float]], groups: Sequence[str] | None = None) -> dict:
    """Average per-item metric dicts: ``{"overall": {metric: mean}, "<group>": {...}, "n": ...}``.

    Args:
        rows: one dict of metric values per evaluated item.
        groups: the item's group label (category), same length as ``rows``; ``None`` for none.
    """
    def avg(sel: Sequence[Mapping[str, float]]) -> dict:
        keys = list(sel[0]) if sel else []
        return {"n": len(sel), **{m: mean(r[m] for r in sel) for m in keys}}

    out = {"overall": avg(rows)}
    if groups is not None:
        for g in sorted(set(groups), key=str):
            out[str(g)] = avg([r for r, gg in zip(rows, groups) if gg == g])
    return out


def score_turns(
    doc_ids: Sequence[str], doc_groups: Sequence[str], ranking: Sequence[int], gold: Sequence[str],
    ks: Sequence[int], *, gold_groups: Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Item- and group-level metrics of one query: ``{"turn": {...}, "session": {...}}``.

    Turn level: :func:`official_evaluate` on item ids. Session level: :func:`grouped_evaluate`
    (LongMemEval's turn-to-session mapping) with ``gold_groups`` (default: the groups of the gold
    items). Keys: ``recall_any@k``, ``recall_all@k``, ``ndcg_any@k``.
    """
    pos = {d: i for i, d in enumerate(doc_ids)}
    if gold_groups is None:
        gold_groups = [doc_groups[pos[g]] for g in gold if g in pos]
    out: dict[str, dict[str, float]] = {"turn": {}, "session": {}}
    for k in ks:
        a, al, nd = official_evaluate(ranking, gold, doc_ids, k)
        out["turn"].update({f"recall_any@{k}": a, f"recall_all@{k}": al, f"recall@{k}": recall_fraction(
            [doc_ids[p] for p in ranking], gold, k), f"ndcg_any@{k}": nd})
        a, al, nd = grouped_evaluate(ranking, gold_groups, doc_groups, k)
        out["session"].update({f"recall_any@{k}": a, f"recall_all@{k}": al, f"ndcg_any@{k}": nd})
    return out
