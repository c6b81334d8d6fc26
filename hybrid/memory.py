"""``Memory``: the user-facing API over a store, an encoder and the two-stage Hopfield retriever.

Example:
    >>> from hybrid import Memory
    >>> mem = Memory.open("my-store")                                  # doctest: +SKIP
    >>> mem.add(["The launch code is in the blue binder."])            # doctest: +SKIP
    >>> mem.search("where is the launch code kept?", k=3)[0].text      # doctest: +SKIP
    'The launch code is in the blue binder.'
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from .associative import (
    ASSOC_FILE,
    AssociativeConfig,
    StoreAssociations,
    entity_pairs,
    multi_hop,
    write_links,
)
from .config import HopfieldConfig, StorageDType
from .encoder import LazyEncoder, TextEncoder, encoder_name, load_encoder, normalize_rows, validate_texts
from .errors import InvalidInputError, NotFoundError, StoreCorruptError
from .linking import SOURCE_ENTITY, SOURCE_MANUAL, SOURCE_ORDER, LinkConfig, order_pairs
from .recall.config import IngestConfig, RecallConfig
from .retriever import Backend, HNSWConfig, HopfieldRetriever, IVFConfig
from .store import (
    DEFAULT_NAMESPACE,
    Key,
    MemoryRecord,
    Store,
    is_database_uri,
    store_manifest,
    validate_namespace,
    validate_where,
)
from .times import parse_times, time_range

#: Environment variable naming the default store folder.
STORE_ENV = "HHMEM_STORE"
DEFAULT_STORE = "hhmem-store"
#: Largest number of associative hops a search may ask for.
MAX_HOPS = 8
#: Namespace/metadata filters whose row masks a Memory keeps for reuse (one byte per key row each).
FILTER_MASK_CACHE = 8

#: ``store_meta`` key of the store's ingest configuration.
INGEST_META = "ingest"

class ChainPath(str, Enum):
    """What :meth:`Memory.recall_chain` follows from memory to memory."""

    LINKS = "links"        # the Hebbian association matrix (explicit and sequence links)
    CONCEPTS = "concepts"  # shared concept cells learned at ingest


#: A function that returns extra keys (kind, text) for a memory's text: paraphrase cue augmentation.
KeyGenerator = Callable[[str], Sequence[tuple[str, str]]]


@dataclass
class SearchResult:
    """One recalled memory.

    Attributes:
        id: memory id.
        score: cosine of the memory's best key to the settled state (higher is better).
        text: the memory's text.
        metadata: its metadata.
        namespace: its namespace.
        hop: 0 for direct recall; ``h`` when reached through ``h`` associations.
        path: ids from the direct hit to this memory (``[id]`` for hop 0).
        via: how the default recall reached it: ``"direct"`` (ranked by the dense or BM25
            lists), ``"concept:<c>"`` (brought by the concept spread, mostly through concept
            ``c``), ``"link:<id>"`` (brought by the link spread from memory ``id``), or
            ``"hop"`` (an associative hop of ``hops > 0``).
        created_at: when the memory was created (epoch seconds, UTC; given at ingest or the time
            it was stored).
    """

    id: int
    score: float
    text: str
    metadata: dict[str, Any]
    namespace: str
    hop: int = 0
    path: list[int] = field(default_factory=list)
    via: str = "direct"
    created_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "text": self.text,
            "metadata": self.metadata,
            "namespace": self.namespace,
            "hop": self.hop,
            "path": self.path,
            "via": self.via,
            "created_at": self.created_at,
        }


def check_min_score(min_score: object) -> float | None:
    """``None``, or ``min_score`` as a finite float (results scoring below it are dropped)."""
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float, np.floating, np.integer)) \
            or not np.isfinite(min_score):
        raise InvalidInputError(f"min_score must be a finite number (e.g. 0.3) or None, got {min_score!r}")
    return float(min_score)


def drop_below(scores: np.ndarray, ids: np.ndarray, min_score: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Contract arrays with every score below ``min_score`` turned into padding (``-inf`` / ``-1``).

    Rows are sorted best first, so the padding stays at the end of each row.
    """
    if min_score is None:
        return scores, ids
    low = ~(scores >= min_score)
    if not low.any():
        return scores, ids
    scores, ids = scores.copy(), ids.copy()
    scores[low] = -np.inf
    ids[low] = -1
    return scores, ids


def default_store_path() -> Path | str:
    """``$HHMEM_STORE`` if set, else ``./hhmem-store``; a ``postgresql://`` URI stays a string."""
    location = os.environ.get(STORE_ENV) or DEFAULT_STORE
    return location if is_database_uri(location) else Path(location)


def _open_encoder(location: str | os.PathLike, encoder: TextEncoder | str | Callable | None,
                  dim: int | None) -> TextEncoder:
    """``encoder`` for the store at ``location``: a model name of an existing store stays unloaded
    (its dimension is the manifest's; :meth:`Store.open` checks the name), anything else is loaded
    by :func:`load_encoder`."""
    name = encoder_name(encoder)
    if name is not None and not name.startswith("hash-"):
        manifest = store_manifest(location)
        if manifest is not None:
            return LazyEncoder(encoder, name=name, dim=manifest["dim"])
    return load_encoder(encoder, dim=dim)


class Memory:
    """A durable text memory with two-stage Hopfield recall.

    Open with :meth:`open`. All methods are thread-safe. Writes made by other processes on the
    same store become visible to searches here without reopening (see :meth:`refresh`).

    Args:
        store: an open :class:`~hybrid.store.Store`.
        encoder: the text encoder (its ``name``/``dim`` must match the store's manifest).
        hopfield: retriever settings.
        device: where the key matrix lives (``"auto"``: CUDA when present).
        dtype: storage type of the key matrix.
        key_generators: functions that add extra keys per memory (cue augmentation).
        associative: pattern separation / Hebbian settings (:class:`~hybrid.associative.AssociativeConfig`).
        links: automatic link sources at ingest (:class:`~hybrid.linking.LinkConfig`).
        cue_keys: generated key kinds (``"all"``, or names from :class:`~hybrid.cues.KeyKind`).
        backend: stage 1 of the retriever (``"exact"``, ``"hnsw"``, ``"ivf"``, ``"hnswlib"``;
            see :class:`~hybrid.retriever.HopfieldRetriever`; ``"pgvector"`` for a PostgreSQL
            store: stage 1 in the database, no key matrix in this process, see
            :class:`~hybrid.pgsearch.PgRetriever`); hnsw, ivf: its parameters. An
            approximate index is saved in the store folder at :meth:`close` (``ann-<backend>.idx``)
            and reused at the next open when it was built over exactly the same keys.
        recall: the stages and weights of :meth:`search` (:class:`~hybrid.recall.RecallConfig`).
        ingest: what is stored with each memory (:class:`~hybrid.recall.IngestConfig`); recorded
            in the store the first time and read back from it afterwards, so every process and
            interface ingests alike. Passing one that differs from the recorded one raises.
    """

    def __init__(
        self,
        store: Store,
        encoder: TextEncoder,
        *,
        hopfield: HopfieldConfig | None = None,
        device: str = "auto",
        dtype: StorageDType | str = StorageDType.FLOAT32,
        key_generators: Sequence[KeyGenerator] = (),
        associative: AssociativeConfig | None = None,
        links: LinkConfig | None = None,
        cue_keys: Sequence[str] | str = (),
        backend: Backend | str = Backend.EXACT,
        hnsw: HNSWConfig | None = None,
        ivf: IVFConfig | None = None,
        recall: RecallConfig | None = None,
        ingest: IngestConfig | None = None,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.key_generators = list(key_generators)
        if cue_keys:
            from .cues import key_generator

            self.key_generators.append(key_generator(cue_keys))
        self.associative_config = associative or AssociativeConfig()
        self.link_config = links or LinkConfig()
        self._assoc: StoreAssociations | None = None
        self.recall_config = recall or RecallConfig()
        self.ingest_config = self._ingest_config(ingest)
        self._recall = None
        self._graph = None
        self.retriever: Any
        if backend == Backend.PGVECTOR:  # stage 1 in the database: no key matrix in this process
            from .pgsearch import PgRetriever

            self.retriever = PgRetriever(store, hopfield or HopfieldConfig(), hnsw=hnsw)
        else:
            self.retriever = HopfieldRetriever(store.dim, hopfield or HopfieldConfig(), device=device, dtype=dtype,
                                               backend=backend, hnsw=hnsw, ivf=ivf)
        self._lock = threading.RLock()
        self._seq = 0
        self._data_version = -1
        self._ann_saved_rows = 0  # rows of the approximate index as loaded from or saved to the store folder
        self._masks: OrderedDict[tuple, tuple[tuple, Any]] = OrderedDict()  # filter -> (stamp, row mask)
        self._load_index()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike | None = None,
        *,
        encoder: TextEncoder | str | Callable | None = "default",
        dim: int | None = None,
        create: bool = True,
        **kwargs: Any,
    ) -> Memory:
        """Open (or create) the store at ``path`` (default ``$HHMEM_STORE`` or ``./hhmem-store``).

        ``encoder`` is anything :func:`hybrid.encoder.load_encoder` accepts. A model name or path
        opening an existing store loads the model at the first encode, not here (see
        :class:`~hybrid.encoder.LazyEncoder`): reading, listing and deleting never load it.
        """
        path = path if path is not None else default_store_path()
        enc = _open_encoder(path, encoder, dim)
        store = Store.open(path, model=enc.name, dim=enc.dim, create=create)
        try:
            return cls(store, enc, **kwargs)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        with self._lock:
            if not self.store._closed:
                if self._assoc is not None:
                    self._assoc.save()  # checkpoint of codes and W; the database stays the source of truth
                self._save_ann()
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ index
    def _load_index(self) -> None:
        with self._lock:
            self._data_version = self.store.data_version()
            self._seq = self.store.last_change()
            if not self.retriever.holds_keys:
                return
            mids, vecs = self.store.all_keys()
            if len(mids):
                self.retriever.add(vecs, mids)
                self._load_ann()

    def index_path(self) -> Path | None:
        """Where the approximate index of this store and backend is kept (``ann-<backend>.idx``);
        ``None`` for a store in a database server (the index is rebuilt in each process)."""
        folder = self.store.folder
        return None if folder is None else folder / f"ann-{self.retriever.backend.value}.idx"

    def _load_ann(self) -> None:
        """Reuse the approximate index saved at the last close when it matches the keys."""
        if self.retriever.backend is Backend.EXACT or self.index_path() is None:
            return
        try:
            if self.retriever.load_index(self.index_path()):
                self._ann_saved_rows = self.retriever.index_rows
        except StoreCorruptError as exc:  # derived data: rebuilt from the database on demand
            warnings.warn(f"{exc}; the index will be rebuilt", RuntimeWarning, stacklevel=3)

    def build_index(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Build (or extend) the approximate stage-1 index now and save it in the store folder, so
        neither the first search nor the next open pays for it; returns the rows it covers.

        Raises:
            InvalidInputError: the memory was opened with the exact backend.
        """
        with self._lock:
            if self.retriever.backend is Backend.EXACT:
                raise InvalidInputError("build_index needs an approximate backend: open with backend='hnswlib', 'hnsw' or 'ivf'")
            self.refresh()
            self.retriever.build_index(progress)
            self._save_ann()
            return self.retriever.index_rows

    def _save_ann(self) -> None:
        """Save a built approximate index that changed since it was loaded or saved (extended
        first with keys added since the last search, so the next open can use it)."""
        r = self.retriever
        if (r.backend is Backend.EXACT or r.index_rows == 0 or self._ann_saved_rows == r.rows
                or self.index_path() is None):
            return
        try:
            r.save_index(self.index_path())
            self._ann_saved_rows = r.index_rows
        except OSError as exc:  # e.g. a read-only folder: the next open rebuilds instead
            warnings.warn(f"could not save the approximate index: {exc}", RuntimeWarning, stacklevel=3)

    def refresh(self, *, force: bool = False) -> int:
        """Apply changes committed since the last refresh (by any process); returns how many memories moved."""
        with self._lock:
            version = self.store.data_version()
            if not force and version == self._data_version:
                return 0
            self._data_version = version
            seq, changed = self.store.changes_since(self._seq)
            if not changed:
                self._seq = seq
                if self._assoc is not None:
                    self._assoc.sync([])
                return 0
            if self.retriever.holds_keys:
                self.retriever.remove(changed)
                mids, vecs = self.store.keys_of(changed)
                if len(mids):
                    self.retriever.add(vecs, mids)
            else:  # the keys stay in the database
                self.retriever.changed(changed)
            self._seq = seq
            self._on_changed(changed)
            return len(changed)

    def _on_changed(self, memory_ids: list[int]) -> None:
        """Hook for subclasses/extensions that keep derived structures (associations) in sync."""
        if self._assoc is not None:
            self._assoc.sync(memory_ids)
        if self._graph is not None:
            self._graph.sync(memory_ids)

    def _ingest_config(self, wanted: IngestConfig | None) -> IngestConfig:
        raw = self.store.get_meta(INGEST_META)
        if raw is None:
            cfg = wanted or IngestConfig()
            try:
                self.store.set_meta(INGEST_META, json.dumps(cfg.to_dict(), sort_keys=True))
            except Exception as exc:  # a read-only store keeps working with the defaults
                warnings.warn(f"could not record the ingest configuration: {exc}", RuntimeWarning, stacklevel=3)
            return cfg
        try:
            stored = IngestConfig.from_dict(json.loads(raw))
        except (ValueError, InvalidInputError) as exc:
            raise StoreCorruptError(f"{self.store.path}: stored ingest configuration is damaged ({exc})") from exc
        if wanted is not None and wanted != stored:
            raise InvalidInputError(f"ingest={wanted} differs from the configuration this store was built with "
                                    f"({stored}); open it without ingest= or use a new store")
        return stored

    # ------------------------------------------------------------------ recall
    @property
    def concept_graph(self):
        """The store's memory-concept graph (:class:`~hybrid.recall.graph.ConceptGraph`), loaded on first use."""
        with self._lock:
            if self._graph is None:
                from .recall.graph import ConceptGraph

                self.refresh()
                self._graph = ConceptGraph(self.store)
            return self._graph

    @property
    def recall(self):
        """The recall pipeline of :meth:`search` (:class:`~hybrid.recall.Recall`)."""
        with self._lock:
            if self._recall is None:
                from .recall.pipeline import Recall

                self._recall = Recall(self, self.recall_config)
            return self._recall

    # ----------------------------------------------------------- associations
    @property
    def associations(self) -> StoreAssociations:
        """The associative index of this store (built or loaded on first use)."""
        with self._lock:
            if self._assoc is None:
                self.refresh()
                self._assoc = StoreAssociations(self.store, self.associative_config)
            return self._assoc

    def link(self, a: int | Sequence[int], b: int | Sequence[int], *, symmetric: bool = False,
             source: str = SOURCE_MANUAL) -> int:
        """Associate memory ``a`` with ``b`` (``a -> b``; both ways with ``symmetric``); returns new links.

        ``a`` and ``b`` may be equal-length lists. Raises :class:`NotFoundError` for an unknown id.
        """
        aa = [a] if isinstance(a, (int, np.integer)) else list(a)
        bb = [b] if isinstance(b, (int, np.integer)) else list(b)
        if len(aa) != len(bb):
            raise InvalidInputError(f"link needs as many targets as sources, got {len(aa)} and {len(bb)}")
        for name, vals in (("a", aa), ("b", bb)):
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                    raise InvalidInputError(f"link: {name} must be memory ids (ints >= 0), got {v!r}")
        pairs = [(int(x), int(y)) for x, y in zip(aa, bb)]
        if symmetric:
            pairs += [(y, x) for x, y in pairs]
        return self._write_links(pairs, source)

    def link_sequence(self, ids: Sequence[int]) -> int:
        """Order links between consecutive memories (both ways), e.g. the turns of one session."""
        return self._write_links(order_pairs(ids), SOURCE_ORDER)

    def unlink(self, a: int, b: int, *, symmetric: bool = False) -> int:
        """Remove the association ``a -> b`` (every source); returns rows removed."""
        pairs = [(int(a), int(b))] + ([(int(b), int(a))] if symmetric else [])
        with self._lock:
            return self.associations.unlink(pairs)

    def _write_links(self, pairs: Sequence[tuple[int, int]], source: str) -> int:
        with self._lock:
            if self._assoc is not None:
                return self._assoc.link(pairs, source)
            return write_links(self.store, pairs, source)  # learned when the index is first used

    def recall_chain(self, cue: str | np.ndarray, hops: int, *, through: ChainPath | str = "links",
                     **kwargs: Any) -> list[SearchResult]:
        """Hop 0: the best memory for ``cue``; then ``hops`` associations, one memory per hop.

        ``through="links"``: W → k-WTA → clean-up over the Hebbian association matrix (links made
        by ``link``/sequences). ``through="concepts"``: each hop the unvisited memory that shares
        the most specific concept cells with the current one (learned at ingest, no link needed).
        """
        try:
            through = ChainPath(through)
        except ValueError:
            raise InvalidInputError(f"through must be one of {[c.value for c in ChainPath]}, got {through!r}") from None
        first = self.search(cue, 1, **kwargs)
        if not first:
            return []
        with self._lock:
            hops_found: list[tuple[int, float, list[int], str]] = []
            if through is ChainPath.CONCEPTS:
                path = [first[0].id]
                graph = self.concept_graph.matrices(self.recall_config.max_df)
                for mid, score, concept in graph.chain(first[0].id, hops):
                    path = [*path, mid]
                    hops_found.append((mid, score, path, f"concept:{concept}"))
            elif first[0].id in self.associations.index:
                hops_found = [(h.id, h.score, h.path, "hop") for h in self.associations.index.chain(first[0].id, hops)]
        records = {r.id: r for r in self.store.get_many([h[0] for h in hops_found])}
        out = [first[0]]
        for hop, (mid, score, path, how) in enumerate(hops_found, 1):
            rec = records.get(mid)
            if rec is None:
                break
            out.append(SearchResult(rec.id, score, rec.text, rec.metadata, rec.namespace, hop, list(path), how,
                                    rec.created_at))
        return out

    # ----------------------------------------------------------------- writes
    def make_keys(self, texts: Sequence[str], *, progress: bool = False,
                  sequences: Sequence[Any] | None = None) -> list[list[Key]]:
        """Encode each text (kind ``"text"``), the extra keys of every key generator and, when
        ``sequences`` labels the texts (equal non-None labels of consecutive texts form a
        sequence), the context keys ``previous + own`` and ``own + next``; one encoder call."""
        extra: list[list[tuple[str, str]]] = [[] for _ in texts]
        for gen in self.key_generators:
            for i, t in enumerate(texts):
                extra[i].extend((kind, kt) for kind, kt in gen(t) if kt and kt.strip() and kt != t)
        if sequences is not None:
            from .fusion import context_texts

            # A memory outside any sequence (label None) gets a label equal to no other.
            labels = [object() if lab is None else lab for lab in sequences]
            for i, ctx in enumerate(context_texts(texts, labels)):
                extra[i].extend(ctx)
        flat = list(texts) + [kt for ex in extra for _, kt in ex]
        vecs = self.encoder.encode(flat, progress=progress)
        keys = [[Key("text", t, vecs[i])] for i, t in enumerate(texts)]
        j = len(texts)
        for i, ex in enumerate(extra):
            for kind, kt in ex:
                keys[i].append(Key(kind, kt, vecs[j]))
                j += 1
        return keys

    def _sequence_labels(self, metas: Sequence[Mapping[str, Any] | None], sequence: bool) -> list[Any]:
        """The sequence of each new memory: all one with ``sequence=True``, else ``metadata[sequence_field]``."""
        if sequence:
            return [0] * len(metas)
        field_name = self.ingest_config.sequence_field
        if field_name is None:
            return [None] * len(metas)
        return [json.dumps((m or {}).get(field_name), sort_keys=True) if (m or {}).get(field_name) is not None
                else None for m in metas]

    def add(
        self,
        texts: str | Sequence[str],
        *,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        vectors: np.ndarray | None = None,
        progress: bool = False,
        sequence: bool = False,
        created_at: Any = None,
        dedupe: bool = True,
    ) -> list[int]:
        """Store memories; returns their ids (one per text, in order). One transaction: all are
        stored or none.

        Args:
            texts: one text or a list of texts.
            metadata: one mapping for all, or one per text.
            namespace: the namespace they belong to.
            vectors: optional precomputed ``[n, d]`` keys (then no encoding happens).
            progress: show a progress bar while encoding.
            sequence: the texts are consecutive items of one sequence (turns of one session).
                Without it, consecutive texts with the same ``metadata[sequence_field]`` (of the
                store's :class:`~hybrid.recall.IngestConfig`, default ``"session"``) are one. A
                sequence's memories get context keys and order links (when the ingest
                configuration has them on).

            created_at: when the memories were created: one time for all or one per text
                (``None``: now), as epoch seconds or ISO 8601 (see :mod:`hybrid.times`).
            dedupe: a text identical to one already stored in ``namespace`` (or repeated in
                ``texts``) is not stored again: the existing memory's id is returned in its place,
                and its text, metadata and time are left as they were. ``False`` keeps copies.

        Each memory's concept synapses are learned in the same transaction (``ingest.concepts``).
        """
        texts = [texts] if isinstance(texts, str) else texts
        texts = validate_texts(texts)
        if not texts:
            return []
        validate_namespace(namespace)
        metas = self._expand_metadata(metadata, len(texts))
        times = parse_times(created_at, len(texts))
        ingest = self.ingest_config
        if vectors is not None:
            vec = normalize_rows(vectors, name="vectors", dim=self.store.dim)
            if vec.shape[0] != len(texts):
                raise InvalidInputError(f"vectors has {vec.shape[0]} rows for {len(texts)} texts")
        # Only texts not stored yet are encoded (the store checks again inside its transaction).
        known = self.store.find_texts(namespace, texts) if dedupe else {}
        todo = [i for i, t in enumerate(texts) if t not in known]
        if dedupe:
            todo = sorted({texts[i]: i for i in reversed(todo)}.values())  # the first of repeated texts
        if not todo:
            return [known[t] for t in texts]
        new_texts = [texts[i] for i in todo]
        labels = self._sequence_labels([metas[i] for i in todo], sequence)
        if vectors is not None:
            keys = [[Key("text", texts[i], vec[i])] for i in todo]
        else:
            keys = self.make_keys(new_texts, progress=progress, sequences=labels if ingest.context_keys else None)
        on_insert = None
        if ingest.concepts:
            from .recall.graph import write_synapses

            def on_insert(conn: Any, ids_in: list[int], texts_in: list[str]) -> None:
                write_synapses(conn, ids_in, texts_in)
        with self._lock:
            new_ids = self.store.add(new_texts, keys, metadata=[metas[i] for i in todo], namespace=namespace,
                                     created_at=[times[i] for i in todo], dedupe=dedupe, on_insert=on_insert)
            self.refresh(force=True)
            by_text = {**known, **dict(zip(new_texts, new_ids))}
            ids = [by_text[t] for t in texts] if dedupe else new_ids
            if len(new_ids) == len(new_texts):
                self._auto_link(new_ids, new_texts, namespace, labels)
        return ids

    def auto_link(self, ids: Sequence[int], texts: Sequence[str], *, namespace: str = DEFAULT_NAMESPACE,
                  sequence: bool = False) -> None:
        """Make the automatic links of memories stored without :meth:`add` (e.g. through ``store.add``):
        order links when ``sequence`` (and ``links.order``), entity links when ``links.entities``."""
        with self._lock:
            self._auto_link(list(ids), list(texts), namespace, sequence)

    def _auto_link(self, ids: list[int], texts: Sequence[str], namespace: str, sequence: bool | Sequence[Any]) -> None:
        """Order links within each sequence (``sequence``: True for one, or a label per memory) and entity links."""
        cfg = self.link_config
        labels = ([0] * len(ids) if sequence else [None] * len(ids)) if isinstance(sequence, bool) else list(sequence)
        if cfg.order and self.ingest_config.order_links:
            pairs: list[tuple[int, int]] = []
            start = 0
            for i in range(1, len(ids) + 1):
                if i == len(ids) or labels[i] != labels[start]:
                    if labels[start] is not None and i - start > 1:
                        pairs += order_pairs(ids[start:i])
                    start = i
            if pairs:
                self._write_links(pairs, SOURCE_ORDER)
        if cfg.entities:
            pairs = entity_pairs(self.store, ids, texts, namespace, cfg)
            if pairs:
                self._write_links(pairs, SOURCE_ENTITY)

    @staticmethod
    def _expand_metadata(metadata: object, n: int) -> list[Mapping[str, Any] | None]:
        if metadata is None or isinstance(metadata, Mapping):
            return [metadata] * n  # type: ignore[list-item]
        if isinstance(metadata, Sequence) and not isinstance(metadata, (str, bytes)):
            if len(metadata) != n:
                raise InvalidInputError(f"metadata has {len(metadata)} entries for {n} texts")
            return list(metadata)
        raise InvalidInputError(f"metadata must be a mapping or a list of mappings, got {type(metadata).__name__}")

    def update(self, memory_id: int, *, text: str | None = None, metadata: Mapping[str, Any] | None = None) -> None:
        """Change a memory's text (re-encoding its keys) and/or replace its metadata."""
        keys = None
        on_update = None
        if text is not None:
            text = validate_texts([text], name="text")[0]
            keys = self.make_keys([text])[0]
            if self.ingest_config.concepts:
                from .recall.graph import write_synapses

                new_text = text

                def on_update(conn: Any, mid: int) -> None:
                    write_synapses(conn, [mid], [new_text])
        with self._lock:
            self.store.update(int(memory_id), text=text, keys=keys, metadata=metadata, on_update=on_update)
            self.refresh(force=True)

    def delete(self, ids: int | Iterable[int], *, namespace: str | None = None) -> list[int]:
        """Delete memories; returns the ids actually deleted (unknown ids are ignored)."""
        id_list = [int(ids)] if isinstance(ids, (int, np.integer)) else [int(i) for i in ids]
        with self._lock:
            deleted = self.store.delete(id_list, namespace=namespace)
            self.refresh(force=True)
        return deleted

    # --------------------------------------------------------- export/import
    def export_jsonl(self, out: Any, *, namespace: str | None = None, vectors: bool = False) -> dict[str, int]:
        """Write every memory (of ``namespace``) with its times, keys and links as JSONL to the text
        stream ``out`` (format: :mod:`hybrid.transfer`); returns ``{"memories": n, "links": m}``."""
        from .transfer import export_jsonl

        with self._lock:
            return export_jsonl(self, out, namespace=namespace, vectors=vectors)

    def import_jsonl(self, lines: Iterable[str], *, name: str = "<input>", dedupe: bool = True,
                     namespace: str | None = None) -> Any:
        """Store an export written by :meth:`export_jsonl`; returns a
        :class:`~hybrid.transfer.ImportResult` (``ids``: old id -> new id)."""
        from .transfer import import_jsonl

        return import_jsonl(self, lines, name=name, dedupe=dedupe, namespace=namespace)

    # ------------------------------------------------------------------ reads
    def get(self, memory_id: int) -> MemoryRecord:
        return self.store.get(int(memory_id))

    def list(self, *, namespace: str | None = None, limit: int | None = 100, offset: int = 0) -> list[MemoryRecord]:
        """Memories in id order; ``limit=None`` lists all of them."""
        return self.store.list(namespace=namespace, limit=limit, offset=offset)

    def delete_namespace(self, namespace: str) -> list[int]:
        """Delete every memory of ``namespace`` (one transaction, links included); returns the ids deleted."""
        with self._lock:
            deleted = self.store.delete_namespace(namespace)
            self.refresh(force=True)
        return deleted

    def count(self, *, namespace: str | None = None) -> int:
        return self.store.count(namespace=namespace)

    def __len__(self) -> int:
        return self.count()

    def byte_sizes(self) -> dict[str, dict[str, int | None]]:
        """Bytes of each part of the store: ``disk`` (the database by part, the association
        checkpoint, the approximate-index files, their ``total``) and ``memory`` (this process's key
        matrix, and the association structures when they are loaded, else ``None``)."""
        folder = self.store.folder
        disk: dict[str, int | None] = dict(self.store.disk_bytes())
        if folder is None:  # a database server: no files beside the database
            disk["associations_file"] = disk["ann_index_files"] = 0
            disk["total"] = disk["database_file"]
        else:
            assoc = folder / ASSOC_FILE
            disk["associations_file"] = assoc.stat().st_size if assoc.is_file() else 0
            disk["ann_index_files"] = sum(p.stat().st_size for p in folder.glob("ann-*.idx"))
            disk["total"] = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        r = self.retriever
        memory: dict[str, int | None] = {
            "keys": r.key_bytes,
            "associations": None if self._assoc is None else int(sum(self._assoc.index.nbytes().values())),
        }
        return {"disk": disk, "memory": memory}

    def stats(self) -> dict[str, Any]:
        """Counts, namespaces, encoder, retriever settings and sizes (:meth:`byte_sizes`)."""
        with self._lock:
            self.refresh()
            r = self.retriever
            return {
                "path": str(self.store.path),
                "memories": self.store.count(),
                "keys": len(r),
                "namespaces": self.store.namespaces(),
                "model": self.store.model,
                "dim": self.store.dim,
                "device": str(r.device),
                "dtype": r.dtype.value,
                "backend": r.backend.value,
                "hopfield": r.config.to_dict(),
                "index_bytes": r.key_bytes,
                "format_version": self.store.manifest["format_version"],
                "bytes": self.byte_sizes(),
                "concepts": self.concept_graph.stats() if self._graph is not None else None,
            }

    def warm_up(self) -> dict[str, float]:
        """Load what the first search would load, now: the encoder (one query encoded), the
        compiled kernels (one search) and, when the store has associations, the associative index
        (one multi-hop search). Servers call it before they accept requests. Returns the seconds
        spent on each part (``encoder``, ``search``, ``associations``).
        """
        t0 = time.perf_counter()
        q = self.encode_queries("warm-up query")
        t1 = time.perf_counter()
        self.search_ids(q, k=1)
        t2 = time.perf_counter()
        if self._has_links():
            self.search_ids(q, k=1, hops=1)
        t3 = time.perf_counter()
        return {"encoder": round(t1 - t0, 3), "search": round(t2 - t1, 3), "associations": round(t3 - t2, 3)}

    def _has_links(self) -> bool:
        return self.store.has_table("assoc_links") and bool(self.store.query("SELECT 1 FROM assoc_links LIMIT 1"))

    # ----------------------------------------------------------------- search
    def encode_queries(self, queries: str | Sequence[str] | np.ndarray) -> np.ndarray:
        """Texts are encoded; arrays ``[n, d]`` are checked and normalised."""
        if isinstance(queries, str):
            return self.encoder.encode(validate_texts([queries], name="query"))
        if isinstance(queries, np.ndarray):
            return normalize_rows(queries, name="queries", dim=self.store.dim)
        return self.encoder.encode(validate_texts(list(queries), name="queries"))

    def search_ids(
        self,
        queries: str | Sequence[str] | np.ndarray,
        k: int = 5,
        *,
        namespace: str | None = None,
        where: Mapping[str, Any] | None = None,
        hopfield: HopfieldConfig | None = None,
        hops: int = 0,
        recall: RecallConfig | None = None,
        since: Any = None,
        until: Any = None,
        min_score: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The retrieval contract: ``(scores, ids)`` of shape ``(n, k)``, padded with ``-inf``/``-1``.

        Text queries go through the default recall (:class:`~hybrid.recall.Recall`, stages and
        weights from ``recall`` or the memory's :class:`~hybrid.recall.RecallConfig`); scores are
        then fused scores, not cosines. Vector queries, an explicit ``hopfield``, or
        ``recall=RecallConfig.dense()`` rank by the two-stage Hopfield retriever alone
        (:meth:`dense_search`, cosine scores). With
        ``hops > 0`` the ranking blends in memories reached through associations (see
        :meth:`search_batch`). ``since``/``until`` keep memories created in that interval (epoch
        seconds, ISO 8601 or a duration before now such as ``"7d"``; see :mod:`hybrid.times`);
        results whose cosine to the query is below ``min_score`` become padding (for the default
        recall the returned score is a fused score; the floor still applies to the cosine).
        """
        min_score = check_min_score(min_score)
        if hops:
            return self._search_hops(queries, k, namespace, where, hopfield, hops, since, until, min_score)[:2]
        out = self._recall_or_dense(queries, k, namespace, where, hopfield, recall, since, until, min_score)
        return out[0], out[1]

    def _recall_or_dense(self, queries, k, namespace, where, hopfield, recall, since=None, until=None,
                         min_score=None):
        """``(scores, ids, via)`` of the default recall, or of the dense retriever (``via`` None);
        results whose cosine to the query is below ``min_score`` become padding."""
        cfg = recall or self.recall_config
        if isinstance(queries, np.ndarray) or hopfield is not None or cfg.dense_only:
            hop = hopfield if hopfield is not None or not cfg.settle else HopfieldConfig(state_weight=1.0)
            return (*drop_below(*self.dense_search(queries, k, namespace=namespace, where=where, hopfield=hop,
                                                   since=since, until=until), min_score), None)
        texts = validate_texts([queries] if isinstance(queries, str) else list(queries), name="queries")
        with self._lock:
            self.refresh()
            if namespace is not None:
                self._filter_mask(namespace, where, since, until)  # NotFoundError for an empty namespace
            out = self.recall.search(texts, k, namespace=namespace, where=where, config=recall, since=since,
                                     until=until, min_cosine=min_score)
        return out.scores, out.ids, out.via

    def dense_search(
        self,
        queries: str | Sequence[str] | np.ndarray,
        k: int = 5,
        *,
        namespace: str | None = None,
        where: Mapping[str, Any] | None = None,
        hopfield: HopfieldConfig | None = None,
        since: Any = None,
        until: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The two-stage Hopfield retriever alone: ``(scores, ids)`` ``(n, k)``, cosine scores."""
        q = self.encode_queries(queries)
        with self._lock:
            self.refresh()
            mask = self._filter_mask(namespace, where, since, until)
            return self.retriever.search(q, k, mask=mask, config=hopfield)

    def _search_hops(self, queries, k, namespace, where, hopfield, hops, since=None, until=None, min_score=None):
        if isinstance(hops, bool) or not isinstance(hops, (int, np.integer)) or not 0 <= hops <= MAX_HOPS:
            raise InvalidInputError(f"hops must be an int in [0, {MAX_HOPS}], got {hops!r}")
        q = self.encode_queries(queries)
        lo, hi = time_range(since, until)
        with self._lock:
            self.refresh()
            mask = self._filter_mask(namespace, where, lo, hi)
            scores, ids = self.retriever.search(q, k, mask=mask, config=hopfield)
            allowed = None
            if namespace is not None or where or lo is not None or hi is not None:
                allowed = set(self.store.ids_matching(namespace=namespace, where=validate_where(where),
                                                      since=lo, until=hi).tolist())
            index = self.associations.index
            scores, ids, hop_list, paths = multi_hop(index, scores, ids, k, int(hops),
                                                     decay=self.associative_config.hop_decay, allowed=allowed)
            scores, ids = drop_below(scores, ids, min_score)
            return scores, ids, hop_list, paths

    def _filter_mask(self, namespace: str | None, where: Mapping[str, Any] | None, since: Any = None,
                     until: Any = None):
        """The retriever row mask of a namespace/metadata/time filter (None: no filter needed).

        Masks of the last :data:`FILTER_MASK_CACHE` filters are reused while nothing changed: the
        stamp is the applied change-log position (any write by any process moves it) and the
        retriever's row counts (compaction moves them), so a search in a namespace costs the
        masked scan, not an SQL query listing the namespace's ids.
        """
        since, until = time_range(since, until)
        if namespace is None and not where and since is None and until is None:
            return None
        where = validate_where(where)
        key = (namespace, json.dumps(where, sort_keys=True), since, until)
        stamp = (self._seq, self.retriever.rows, len(self.retriever) if self.retriever.holds_keys else 0)
        hit = self._masks.get(key)
        if hit is not None and hit[0] == stamp:
            self._masks.move_to_end(key)
            return hit[1]
        mask = self._build_filter_mask(namespace, where, since, until)
        self._masks[key] = (stamp, mask)
        while len(self._masks) > FILTER_MASK_CACHE:
            self._masks.popitem(last=False)
        return mask

    def _build_filter_mask(self, namespace: str | None, where: dict[str, Any], since: float | None = None,
                           until: float | None = None):
        if namespace is not None:
            validate_namespace(namespace)
            count = self.store.count(namespace=namespace)
            if count == 0:
                known = ", ".join(self.store.namespaces()) or "none"
                raise NotFoundError(f"namespace {namespace!r} has no memories (known namespaces: {known})")
            if not where and since is None and until is None and count == self.store.count():
                return None  # the namespace holds every memory: no mask (and no id list of the whole store)
        return self.retriever.filter_mask(self.store, namespace, where, since, until)

    def search(
        self,
        query: str | np.ndarray,
        k: int = 5,
        *,
        namespace: str | None = None,
        where: Mapping[str, Any] | None = None,
        hopfield: HopfieldConfig | None = None,
        hops: int = 0,
        recall: RecallConfig | None = None,
        since: Any = None,
        until: Any = None,
        min_score: float | None = None,
    ) -> list[SearchResult]:
        """Recall the ``k`` memories best matching one query (text or ``[d]`` vector).

        A text query goes through the default recall (seeds from the dense and BM25 lists, link
        and concept spread; ``docs/recall.md``); each result's ``via`` says how it was reached.
        ``hops > 0`` adds memories reached through up to ``hops`` explicit associations; each
        result says which hop brought it (``hop``) and through which memories (``path``).
        """
        if isinstance(query, np.ndarray) and query.ndim == 2 and query.shape[0] != 1:
            raise InvalidInputError(f"search takes one query; got {query.shape[0]} (use search_batch)")
        return self.search_batch([query] if isinstance(query, str) else np.atleast_2d(query), k,
                                 namespace=namespace, where=where, hopfield=hopfield, hops=hops, recall=recall,
                                 since=since, until=until, min_score=min_score)[0]

    def search_batch(
        self,
        queries: Sequence[str] | np.ndarray,
        k: int = 5,
        *,
        namespace: str | None = None,
        where: Mapping[str, Any] | None = None,
        hopfield: HopfieldConfig | None = None,
        hops: int = 0,
        recall: RecallConfig | None = None,
        since: Any = None,
        until: Any = None,
        min_score: float | None = None,
    ) -> list[list[SearchResult]]:
        """Recall for several queries at once; one list of results (padding dropped) per query.

        Without ``hops``: :meth:`search_ids` (the default recall for texts). With
        ``hops = H > 0``: hop 0 is the two-stage Hopfield recall; then, for ``h = 1..H``,
        each memory reached at hop ``h-1`` spreads through the Hebbian matrix to its associates,
        which score ``s(parent) · hop_decay · strength``; the ``k`` best over all hops are kept.
        """
        if hops:
            scores, ids, hop_list, paths = self._search_hops(queries, k, namespace, where, hopfield, hops,
                                                             since, until, check_min_score(min_score))
            return self.results_for(scores, ids, hops=hop_list, paths=paths)
        min_score = check_min_score(min_score)
        scores, ids, via = self._recall_or_dense(queries, k, namespace, where, hopfield, recall, since, until,
                                                 min_score)
        return self.results_for(scores, ids, via=via)

    def results_for(self, scores: np.ndarray, ids: np.ndarray, *, hops: Sequence[Sequence[int]] | None = None,
                    paths: Sequence[Sequence[list[int]]] | None = None,
                    via: Sequence[Sequence[str]] | None = None) -> list[list[SearchResult]]:
        """Turn contract arrays into :class:`SearchResult` lists (one database read for all)."""
        wanted = sorted({int(i) for i in ids.reshape(-1) if i >= 0})
        records = {r.id: r for r in self.store.get_many(wanted)}
        out = []
        for q, (srow, irow) in enumerate(zip(scores, ids)):
            row = []
            for j, (s, i) in enumerate(zip(srow, irow)):
                rec = records.get(int(i))
                if i < 0 or rec is None:
                    continue
                hop = hops[q][j] if hops is not None else 0
                path = list(paths[q][j]) if paths is not None else [rec.id]
                how = via[q][j] if via is not None and j < len(via[q]) else ("hop" if hop else "direct")
                row.append(SearchResult(rec.id, float(s), rec.text, rec.metadata, rec.namespace, hop, path, how,
                                        rec.created_at))
            out.append(row)
        return out
