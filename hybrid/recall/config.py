"""The recall's two configurations: how memories are ingested (recorded in the store) and how they are recalled.

Build-time settings (:class:`IngestConfig`) decide what is stored: extra keys and concept
synapses. They are written to the store's manifest on first use and read back by every process,
so every interface (library, CLI, HTTP, MCP, eval) ingests the same way. Recall-time settings
(:class:`RecallConfig`) change nothing on disk and may differ per call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from ..errors import InvalidInputError


def _check_number(owner: str, name: str, value: object, *, lo: float = 0.0, hi: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidInputError(f"{owner}.{name} must be a finite number in [{lo}, {hi}], got {value!r}")


def _check_int(owner: str, name: str, value: object, *, lo: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InvalidInputError(f"{owner}.{name} must be an int >= {lo}, got {value!r}")


@dataclass(frozen=True)
class IngestConfig:
    """What is stored with each memory (one per store, recorded in ``manifest.json``).

    Attributes:
        context_keys: a memory of a sequence (consecutive memories with the same
            ``metadata[sequence_field]``, or a batch added with ``sequence=True``) gets two extra
            keys, ``previous + own`` and ``own + next`` text, so a reply ("Yes, last year.") is found
            by a question about what it replies to.
        order_links: link consecutive memories of a sequence both ways (they join the concept graph).
        concepts: learn concept synapses at ingest (:mod:`hybrid.recall.concepts`).
        sequence_field: the metadata field that names a memory's sequence (``None``: only
            ``sequence=True`` batches are sequences).
    """

    context_keys: bool = True
    order_links: bool = True
    concepts: bool = True
    sequence_field: str | None = "session"

    def __post_init__(self) -> None:
        for name in ("context_keys", "order_links", "concepts"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"IngestConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.sequence_field is not None and (not isinstance(self.sequence_field, str) or not self.sequence_field):
            raise InvalidInputError(f"IngestConfig.sequence_field must be a non-empty str or None, got {self.sequence_field!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> IngestConfig:
        if not isinstance(data, dict):
            raise InvalidInputError(f"ingest configuration must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Fusion(str, Enum):
    """How the seed lists are combined (:mod:`hybrid.recall.fuse`)."""

    SCORE = "score"  # weighted sum of scaled scores (a decisive match keeps its lead)
    RANK = "rank"    # weighted reciprocal rank fusion (ranks only)


@dataclass(frozen=True)
class RecallConfig:
    """Every stage and weight of the default recall (``Memory.search``); a weight of 0 switches its stage off.

    Stages, in order (``docs/recall.md`` has the equations):

    1. **Seeds**: ranked lists (``depth`` candidates each) combined by ``fusion``: the dense
       two-stage Hopfield list of the query (``dense_weight``); two dense lists of *hub-free cues*
       of the query (its words without the names that are hubs of the namespace,
       ``nameless_weight``; and without stop words too, ``content_weight``, both relative to
       ``dense_weight``); a BM25 list (``lexical_weight``). Score fusion sums each list's scaled
       scores; rank fusion sums ``w / (rrf_k + rank)``.
    2. **Link spread** (``link_spread``): a memory gains that share of its best linked
       neighbour's fused score (sequence order links and explicit links).
    3. **Concept spread** (``concept_spread``): the ``seeds`` best memories and the query's own
       concepts (``query_concepts``) start a personalised-PageRank walk over the memory-concept
       graph (``steps``, ``restart``). With score fusion each memory the walk reaches gains
       ``concept_spread`` times the seeds' summed score times the share of their activation that
       reached it through the graph; with rank fusion the reached memories form one more ranked
       list of this weight.

    Attributes:
        hub_fraction: a name held by more than this share of a namespace's memories is a hub and
            is left out of the cues.
        max_df: concepts held by more memories of their namespace than this are cut from the graph.
        seed_temperature: ``τ`` of the seeds' start activation ``exp((s - s_max) / τ)``, so the best
            matches lead the walk; 0: in proportion to their fused scores.
        below_best: the concept spread lifts a memory at most to just below the best fused score
            before the spread: associates rank after the best direct match, never above it.
        settle: rank the dense lists by the Hopfield-settled state instead of stage 1.
    """

    fusion: Fusion = Fusion.SCORE
    dense_weight: float = 1.0
    nameless_weight: float = 0.3
    content_weight: float = 1.0
    lexical_weight: float = 0.2
    rrf_k: float = 5.0
    depth: int = 100
    link_spread: float = 0.3
    concept_spread: float = 0.3
    seeds: int = 10
    steps: int = 2
    restart: float = 0.5
    query_concepts: float = 1.0
    hub_fraction: float = 0.05
    max_df: int = 50
    seed_temperature: float = 0.1
    below_best: bool = True
    settle: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "fusion", Fusion(self.fusion))
        except ValueError:
            raise InvalidInputError(f"RecallConfig.fusion must be one of {[f.value for f in Fusion]}, "
                                    f"got {self.fusion!r}") from None
        for name in ("dense_weight", "nameless_weight", "content_weight", "lexical_weight", "rrf_k", "link_spread",
                     "concept_spread", "query_concepts", "seed_temperature"):
            _check_number("RecallConfig", name, getattr(self, name))
        _check_number("RecallConfig", "restart", self.restart, hi=1.0)
        _check_number("RecallConfig", "hub_fraction", self.hub_fraction, hi=1.0)
        for name in ("depth", "seeds", "steps", "max_df"):
            _check_int("RecallConfig", name, getattr(self, name))
        for name in ("settle", "below_best"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"RecallConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.dense_weight == 0 and self.lexical_weight == 0:
            raise InvalidInputError("RecallConfig: dense_weight and lexical_weight cannot both be 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> RecallConfig:
        """A copy with some fields changed (unknown names raise)."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise InvalidInputError(f"RecallConfig has no field {bad[0]!r} (fields: {', '.join(sorted(known))})")
        return RecallConfig(**{**self.to_dict(), **changes})

    @property
    def dense_only(self) -> bool:
        """Only the query's dense list is on: the ranking is the two-stage retriever's (cosine scores)."""
        return (self.nameless_weight == 0 and self.content_weight == 0 and self.lexical_weight == 0
                and self.link_spread == 0 and self.concept_spread == 0)

    @classmethod
    def dense(cls) -> RecallConfig:
        """Dense recall alone (the two-stage Hopfield ranking of the query, no fusion, no spread)."""
        return cls(nameless_weight=0.0, content_weight=0.0, lexical_weight=0.0, link_spread=0.0, concept_spread=0.0)
