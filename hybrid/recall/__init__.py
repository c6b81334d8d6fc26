"""The default recall of hhmem: concept cells learned at ingest, seeds, fusion and spreading activation.

- :mod:`.concepts`: the rule-based concept extractor;
- :mod:`.graph`: concept synapses in the store and the in-memory memory-concept graph;
- :mod:`.cues`, :mod:`.lexical`, :mod:`.fuse`: hub-free query cues, BM25, rank fusion, link spread;
- :mod:`.spread`: the personalised-PageRank walk over the graph;
- :mod:`.pipeline`: :class:`Recall`, the stages in order, run by :meth:`hybrid.memory.Memory.search`;
- :mod:`.config`: :class:`RecallConfig` (recall time) and :class:`IngestConfig` (build time).
"""

from .concepts import extract_concepts
from .config import IngestConfig, RecallConfig
from .pipeline import Recall, RecallOutput

__all__ = ["IngestConfig", "Recall", "RecallConfig", "RecallOutput", "extract_concepts"]
