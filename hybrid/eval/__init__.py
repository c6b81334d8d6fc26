"""Evaluation on public retrieval benchmarks (LongMemEval, LoCoMo, BEIR) with baselines in the same run.

Every loader turns a benchmark file into :class:`EvalSet`: a list of :class:`Partition` s, each a
corpus (the haystack one query may search: one LoCoMo conversation, one LongMemEval question's
sessions, or a whole BEIR corpus) with its queries. Methods (:mod:`hybrid.eval.methods`) rank a
partition's documents for its queries; metrics (:mod:`hybrid.eval.metrics`) score the rankings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Doc:
    """One indexed item.

    Attributes:
        id: its id in the benchmark (turn id, corpus id).
        text: the text every method indexes.
        group: the coarser unit it belongs to (session), for group-level metrics.
        meta: anything else kept (speaker, date, position in the session...).
    """

    id: str
    text: str
    group: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    """One evaluated question with its gold document ids (and graded gains for BEIR)."""

    id: str
    text: str
    gold: list[str]
    category: str = "all"
    answer: str | None = None
    gains: dict[str, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Partition:
    """A corpus and the queries that search it."""

    name: str
    docs: list[Doc]
    queries: list[Query]


@dataclass
class EvalSet:
    """What a loader returns: partitions plus counts of what it skipped (reason -> count)."""

    name: str
    partitions: list[Partition]
    skipped: Counter = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        return sum(len(p.queries) for p in self.partitions)

    @property
    def n_docs(self) -> int:
        return sum(len(p.docs) for p in self.partitions)


__all__ = ["Doc", "Query", "Partition", "EvalSet"]
