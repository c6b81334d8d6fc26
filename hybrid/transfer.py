"""Export and import of memories as JSONL (``hhmem export`` / ``hhmem import``).

The file is UTF-8, one JSON object per line:

1. a header: ``{"format": "hhmem-export", "format_version": 1, "hhmem": "<version>", "model": "<encoder>",
   "dim": 384, "namespace": null | "<ns>", "vectors": false, "exported_at": <epoch s>}``;
2. one line per memory, in id order: ``{"type": "memory", "id", "namespace", "text", "metadata",
   "created_at", "updated_at", "keys": [{"kind", "text"[, "vector"]}], "terms": [...]}``.
   ``keys`` are the memory's retrieval keys (its text, cue and context keys); ``vector`` (base64 of
   little-endian float32) only with ``vectors=True``. ``terms`` are the entity terms used for
   automatic entity links;
3. one line per association: ``{"type": "link", "src", "dst", "source", "created_at"}`` (ids of
   the exporting store; with a namespace, only links between exported memories).

Import validates the whole file first (nothing is written when a line is bad; the error names the
line), then stores the memories with their times, metadata and keys (keys are re-encoded from
their text by the importing store's encoder unless the file carries vectors of the same encoder),
then the links and terms. Ids are the importing store's: :func:`import_jsonl` returns the mapping
old id -> new id. Exact duplicates (same text in the same namespace) map to the existing memory
unless ``dedupe=False``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .associative import ensure_schema, write_links
from .encoder import normalize_rows
from .errors import InvalidInputError
from .store import Key, validate_metadata, validate_namespace
from .times import parse_time

if TYPE_CHECKING:
    from .memory import Memory

#: Export file format and its version.
EXPORT_FORMAT = "hhmem-export"
EXPORT_VERSION = 1
#: Memories read per database query while exporting, and stored per transaction while importing.
PAGE = 256


def _vector_b64(v: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode("ascii")


def export_records(memory: Memory, *, namespace: str | None = None, vectors: bool = False) -> Iterator[dict[str, Any]]:
    """The export as JSON-ready dicts: header, memories (id order), links (see the module docstring)."""
    store = memory.store
    if namespace is not None:
        validate_namespace(namespace)
    ensure_schema(store)
    yield {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "hhmem": __version__, "model": store.model,
           "dim": store.dim, "namespace": namespace, "vectors": vectors, "exported_at": time.time()}
    where, params = ("AND namespace = ?", [namespace]) if namespace is not None else ("", [])
    last = 0
    exported: set[int] = set()
    while True:
        ids = [r[0] for r in store.query(f"SELECT id FROM memories WHERE id > ? {where} ORDER BY id LIMIT ?",
                                         [last, *params, PAGE])]
        if not ids:
            break
        last = ids[-1]
        marks = ",".join("?" * len(ids))
        terms: dict[int, list[str]] = {}
        for term, mid in store.query(f"SELECT term, memory_id FROM assoc_terms WHERE memory_id IN ({marks}) "
                                     "ORDER BY term", ids):
            terms.setdefault(int(mid), []).append(term.split("\x1f", 1)[-1])
        for rec in store.get_many(ids, with_keys=True):
            exported.add(rec.id)
            keys = []
            for k in rec.keys:
                key: dict[str, Any] = {"kind": k.kind, "text": k.text}
                if vectors:
                    key["vector"] = _vector_b64(k.vector)
                keys.append(key)
            yield {"type": "memory", "id": rec.id, "namespace": rec.namespace, "text": rec.text,
                   "metadata": rec.metadata, "created_at": rec.created_at, "updated_at": rec.updated_at,
                   "keys": keys, "terms": terms.get(rec.id, [])}
    for src, dst, source, at in store.query("SELECT src, dst, source, created_at FROM assoc_links ORDER BY src, dst, source"):
        if namespace is None or (src in exported and dst in exported):
            yield {"type": "link", "src": int(src), "dst": int(dst), "source": source, "created_at": at}


def export_jsonl(memory: Memory, out: IO[str], *, namespace: str | None = None, vectors: bool = False) -> dict[str, int]:
    """Write the export to a text stream; returns ``{"memories": n, "links": m}``."""
    counts = {"memories": 0, "links": 0}
    for obj in export_records(memory, namespace=namespace, vectors=vectors):
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        kind = obj.get("type")
        if kind == "memory":
            counts["memories"] += 1
        elif kind == "link":
            counts["links"] += 1
    return counts


@dataclass
class ImportResult:
    """What an import did.

    Attributes:
        ids: old id (in the file) -> new id (in this store).
        added: memories stored.
        duplicates: memories that mapped to an existing memory with the same text and namespace.
        links: associations stored (new ones).
    """

    ids: dict[int, int] = field(default_factory=dict)
    added: int = 0
    duplicates: int = 0
    links: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "duplicates": self.duplicates, "links": self.links,
                "ids": {str(k): v for k, v in self.ids.items()}}


@dataclass
class _Item:
    old_id: int
    namespace: str
    text: str
    metadata: dict[str, Any]
    created_at: float
    keys: list[tuple[str, str | None, np.ndarray | None]]
    terms: list[str]


def _parse(lines: Iterable[str], name: str, dim: int, model: str, namespace: str | None
           ) -> tuple[list[_Item], list[tuple[int, int, str, float]]]:
    """Read and check every line; errors name ``name:line``."""
    items: list[_Item] = []
    links: list[tuple[int, int, str, float]] = []
    header: dict[str, Any] | None = None
    use_vectors = False
    seen: set[int] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InvalidInputError(f"{where}: each line must be a JSON object")
        if header is None:
            if obj.get("format") != EXPORT_FORMAT:
                raise InvalidInputError(f"{where}: not an hhmem export (the first line must be the header with "
                                        f"\"format\": \"{EXPORT_FORMAT}\"; write one with `hhmem export`)")
            version = obj.get("format_version")
            if not isinstance(version, int) or version > EXPORT_VERSION:
                raise InvalidInputError(f"{where}: export format version {version!r} is not supported "
                                        f"(this hhmem reads up to {EXPORT_VERSION})")
            header = obj
            use_vectors = bool(obj.get("vectors")) and obj.get("model") == model and obj.get("dim") == dim
            continue
        kind = obj.get("type")
        try:
            if kind == "memory":
                items.append(_parse_memory(obj, dim, use_vectors, namespace))
                if items[-1].old_id in seen:
                    raise InvalidInputError(f"memory id {items[-1].old_id} appears twice")
                seen.add(items[-1].old_id)
            elif kind == "link":
                src, dst = obj.get("src"), obj.get("dst")
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in (src, dst)):
                    raise InvalidInputError("a link needs integer \"src\" and \"dst\"")
                if src not in seen or dst not in seen:
                    raise InvalidInputError(f"link {src} -> {dst} names a memory not in the file (before it)")
                source = obj.get("source", "manual")
                if not isinstance(source, str) or not source:
                    raise InvalidInputError(f"link \"source\" must be a non-empty string, got {source!r}")
                at = obj.get("created_at")
                links.append((src, dst, source, time.time() if at is None else parse_time(at, relative=False)))
            else:
                raise InvalidInputError(f"\"type\" must be \"memory\" or \"link\", got {kind!r}")
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {exc}") from None
    if header is None:
        raise InvalidInputError(f"{name}: empty file; an hhmem export starts with a header line")
    return items, links


def _parse_memory(obj: dict[str, Any], dim: int, use_vectors: bool, namespace: str | None) -> _Item:
    old_id, text = obj.get("id"), obj.get("text")
    if not isinstance(old_id, int) or isinstance(old_id, bool):
        raise InvalidInputError(f"a memory needs an integer \"id\", got {old_id!r}")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("a memory needs a non-blank \"text\" string")
    ns = validate_namespace(namespace if namespace is not None else obj.get("namespace", "default"))
    meta = validate_metadata(obj.get("metadata"))
    at = obj.get("created_at")
    created = time.time() if at is None else parse_time(at, relative=False)
    keys: list[tuple[str, str | None, np.ndarray | None]] = []
    raw_keys = obj.get("keys") or [{"kind": "text", "text": text}]
    if not isinstance(raw_keys, list):
        raise InvalidInputError("\"keys\" must be a list")
    for k in raw_keys:
        if not isinstance(k, dict) or not isinstance(k.get("kind"), str):
            raise InvalidInputError("each key needs a \"kind\" string")
        ktext = k.get("text")
        vec = None
        if use_vectors and isinstance(k.get("vector"), str):
            try:
                vec = np.frombuffer(base64.b64decode(k["vector"], validate=True), dtype="<f4")
            except ValueError:
                raise InvalidInputError("a key \"vector\" is not base64") from None
            vec = normalize_rows(vec.reshape(1, -1), name="key vector", dim=dim)[0]
        elif not isinstance(ktext, str) or not ktext.strip():
            raise InvalidInputError(f"key of kind {k['kind']!r} has no text to encode and no usable vector")
        keys.append((k["kind"], ktext, vec))
    terms = obj.get("terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise InvalidInputError("\"terms\" must be a list of strings")
    return _Item(old_id, ns, text, meta, created, keys, terms)


def import_jsonl(memory: Memory, lines: Iterable[str], *, name: str = "<input>", dedupe: bool = True,
                 namespace: str | None = None) -> ImportResult:
    """Store the memories and links of an export (see the module docstring).

    Args:
        lines: the file's lines (an open text file works).
        name: the file's name, for error messages.
        dedupe: map a memory whose text is already stored in its namespace to the existing one.
        namespace: put every memory into this namespace instead of its own.

    Raises:
        InvalidInputError: a bad line (nothing is written).
    """
    store = memory.store
    items, links = _parse(lines, name, store.dim, store.model, namespace)
    result = ImportResult()
    with memory._lock:
        start = 0
        while start < len(items):
            ns = items[start].namespace
            end = start
            while end < len(items) and end - start < PAGE and items[end].namespace == ns:
                end += 1
            _store_chunk(memory, items[start:end], ns, dedupe, result)
            start = end
        memory.refresh(force=True)
        by_source: dict[str, list[tuple[tuple[int, int], float]]] = {}
        for src, dst, source, at in links:
            a, b = result.ids[src], result.ids[dst]
            if a != b:
                by_source.setdefault(source, []).append(((a, b), at))
        for source, rows in by_source.items():
            result.links += write_links(store, [p for p, _ in rows], source, [t for _, t in rows])
        if memory._assoc is not None:
            memory._assoc.sync([])
        terms = [(f"{it.namespace}\x1f{t}", result.ids[it.old_id]) for it in items for t in it.terms]
        if terms:
            ensure_schema(store)
            with store.transaction() as conn:
                conn.executemany("INSERT OR IGNORE INTO assoc_terms(term, memory_id) VALUES (?, ?)", terms)
    return result


def _store_chunk(memory: Memory, chunk: list[_Item], namespace: str, dedupe: bool, result: ImportResult) -> None:
    known = memory.store.find_texts(namespace, [it.text for it in chunk]) if dedupe else {}
    todo = [it for it in chunk if it.text not in known]
    to_encode = [kt for it in todo for _, kt, vec in it.keys if vec is None]
    encoded = iter(memory.encoder.encode(to_encode) if to_encode else [])
    keys = [[Key(kind, kt, next(encoded) if vec is None else vec) for kind, kt, vec in it.keys] for it in todo]
    new_ids = memory.store.add([it.text for it in todo], keys, metadata=[it.metadata for it in todo],
                               namespace=namespace, created_at=[it.created_at for it in todo], dedupe=dedupe)
    fresh = set(new_ids) - set(known.values())
    for it, nid in zip(todo, new_ids):
        result.ids[it.old_id] = nid
    for it in chunk:
        if it.text in known:
            result.ids[it.old_id] = known[it.text]
    result.added += len(fresh)
    result.duplicates += len(chunk) - len(fresh)
