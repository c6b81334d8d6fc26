"""hhmem production path: encoder, durable store and two-stage modern-Hopfield recall.

Public API::

    from hybrid import Memory, HopfieldConfig, HopfieldRetriever
"""

from __future__ import annotations

from ._version import __version__
from .config import HopfieldConfig, StorageDType
from .encoder import CallableEncoder, HashEncoder, SentenceTransformerEncoder, load_encoder
from .errors import (
    HHMemError,
    InvalidInputError,
    NotFoundError,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
    StoreVersionError,
)
from .memory import Memory, SearchResult
from .recall import IngestConfig, RecallConfig
from .retriever import Backend, HNSWConfig, HopfieldRetriever, IVFConfig
from .store import Key, MemoryRecord, Store

__all__ = [
    "IngestConfig",
    "RecallConfig",
    "__version__",
    "Backend",
    "CallableEncoder",
    "HHMemError",
    "HNSWConfig",
    "HashEncoder",
    "HopfieldConfig",
    "HopfieldRetriever",
    "IVFConfig",
    "InvalidInputError",
    "Key",
    "Memory",
    "MemoryRecord",
    "NotFoundError",
    "SearchResult",
    "SentenceTransformerEncoder",
    "StorageDType",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreMismatchError",
    "StoreVersionError",
    "load_encoder",
]
