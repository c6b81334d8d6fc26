"""The durable store: a folder with ``manifest.json`` and an SQLite (WAL) database.

Layout::

    <store>/manifest.json   format version, encoder name, dimension, library versions
    <store>/memory.db       memories, keys (vectors as float32 BLOBs), change log, extension tables

Every write is one SQLite transaction (``BEGIN IMMEDIATE``, ``synchronous=FULL``): a memory and
all its keys are committed together or not at all, so a write that returned survives ``kill -9``
and a process killed mid-batch leaves no half-record. Several processes may write one store at
once; SQLite serialises the transactions (``busy_timeout``). Each committed change appends a row
to ``changes`` so other processes can bring their in-memory index up to date incrementally.

The same contract on a PostgreSQL server with pgvector, for processes on several hosts:
:class:`~hybrid.pgstore.PgStore` (``Store.open("postgresql://...")``; docs/scale.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .errors import (
    InvalidInputError,
    NotFoundError,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
    StoreVersionError,
)
from .validation import check_int64, check_json_value, check_unicode
from .validation import memory_ids as checked_ids
from .wal import wal_damage

#: Version of the on-disk layout; a store with a larger number is refused.
FORMAT_VERSION = 1
#: SQLite ``application_id`` of hhmem databases ("HHMM").
APPLICATION_ID = 0x48484D4D
MANIFEST = "manifest.json"
DATABASE = "memory.db"
DEFAULT_NAMESPACE = "default"
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_META_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SCALARS = (str, int, float, bool, type(None))
#: ``LIMIT`` of "no limit" that every SQL dialect accepts (the largest int64).
_NO_LIMIT = 2**63 - 1
#: Indexes added after format version 1 was published; created on first use in older stores
#: (an extra index is invisible to older hhmem versions, so the format version stays 1).
_LATE_INDEXES = {
    "memories_text": "CREATE INDEX IF NOT EXISTS memories_text ON memories(namespace, text)",
    "memories_created": "CREATE INDEX IF NOT EXISTS memories_created ON memories(created_at)",
}
#: Columns of a memory row as read back: text columns as raw bytes, decoded by :func:`decode_row`.
_RECORD_COLUMNS = "id, CAST(namespace AS BLOB), CAST(text AS BLOB), CAST(metadata AS BLOB), created_at, updated_at"
#: A JSON escape of a UTF-16 surrogate; metadata holding one is checked for lone surrogates.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_QUARANTINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    memory_id INTEGER NOT NULL,
    namespace BLOB, text BLOB, metadata BLOB, created_at REAL, updated_at REAL,
    keys INTEGER,
    reason TEXT NOT NULL,
    quarantined_at REAL NOT NULL
)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_namespace ON memories(namespace);
CREATE INDEX IF NOT EXISTS memories_text ON memories(namespace, text);
CREATE INDEX IF NOT EXISTS memories_created ON memories(created_at);
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    text TEXT,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_memory ON keys(memory_id);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id INTEGER NOT NULL,
    op TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Key:
    """One retrieval key of a memory: the vector searched for it, and where it came from.

    Attributes:
        kind: ``"text"`` for the memory's own text; other kinds come from cue augmentation.
        text: the text that was encoded (``None`` for a vector given directly).
        vector: ``[d]`` float32 unit vector.
    """

    kind: str
    text: str | None
    vector: np.ndarray


@dataclass
class MemoryRecord:
    """A stored memory as read back from the database."""

    id: int
    text: str
    namespace: str
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    keys: list[Key] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "namespace": self.namespace,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "keys": [{"kind": k.kind, "text": k.text} for k in self.keys],
        }


class DamagedRowWarning(RuntimeWarning):
    """A stored row could not be read back and was skipped (see ``hhmem check``)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_row(row: Sequence[Any]) -> MemoryRecord | str:
    """A ``SELECT {_RECORD_COLUMNS}`` row as a record, or the reason it cannot be read faithfully."""
    mid, raw_ns, raw_text, raw_meta, created_at, updated_at = row
    fields = {}
    for name, raw in (("namespace", raw_ns), ("text", raw_text), ("metadata", raw_meta)):
        try:
            fields[name] = bytes(raw or b"").decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"its {name} is not valid UTF-8 (byte {exc.start})"
    meta_text = fields["metadata"]
    try:
        meta = json.loads(meta_text, parse_constant=_no_constant) if meta_text else {}
    except (ValueError, RecursionError) as exc:
        return f"its metadata is not valid JSON ({exc})"
    if not isinstance(meta, dict):
        return f"its metadata is a JSON {type(meta).__name__}, not an object"
    if _SURROGATE_ESCAPE.search(meta_text):
        try:
            json.dumps(meta, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "its metadata holds a lone surrogate (not valid Unicode text)"
    return MemoryRecord(mid, fields["text"], fields["namespace"], meta, created_at, updated_at)


def validate_namespace(namespace: object) -> str:
    """A namespace is 1-64 characters of letters, digits and ``_ . : -``, starting alphanumeric."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise InvalidInputError(
            f"namespace must be 1-64 characters [A-Za-z0-9_.:-] starting with a letter or digit; got {namespace!r}"
        )
    return namespace


def validate_metadata(metadata: object, *, name: str = "metadata") -> dict[str, Any]:
    """Metadata is a JSON object with string keys; values must be JSON-serialisable and finite."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"{name} must be a mapping (JSON object), got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str) or not _META_KEY_RE.match(key):
            raise InvalidInputError(f"{name} key {key!r} is not allowed: use [A-Za-z0-9_.-], up to 128 characters")
    check_json_value(metadata, name)
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be JSON-serialisable with finite numbers: {exc}") from None
    return dict(metadata)


def validate_where(where: object) -> dict[str, Any]:
    """A metadata filter: ``{key: scalar}``, matched by equality (``None`` matches a missing/null key)."""
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise InvalidInputError(f"where must be a mapping of metadata key -> value, got {type(where).__name__}")
    for key, value in where.items():
        if not isinstance(key, str) or not _META_KEY_RE.match(key):
            raise InvalidInputError(f"where key {key!r} is not a valid metadata key ([A-Za-z0-9_.-])")
        if not isinstance(value, _SCALARS):
            raise InvalidInputError(
                f"where[{key!r}] must be a str, int, float, bool or None (equality filter); got {type(value).__name__}"
            )
        check_json_value(value, f"where[{key!r}]")
    return dict(where)


def _library_versions() -> dict[str, str]:
    import sys

    versions = {"hhmem": __version__, "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for mod in ("numpy", "torch", "sentence_transformers"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "unknown")
    return versions


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, fsync and rename (never a half-written file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass


def file_hash(path: Path) -> str:
    """blake2b (16 bytes) of a file, read in 16 MiB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check ``<store>/manifest.json``; errors name the file."""
    mpath = path / MANIFEST
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreCorruptError(f"{mpath}: manifest missing; {path} is not an hhmem store") from None
    except OSError as exc:  # a folder, unreadable, ...
        raise StoreCorruptError(f"{mpath}: manifest cannot be read ({exc.strerror or exc}); the store is damaged") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreCorruptError(f"{mpath}: manifest is not valid JSON ({exc}); the store may be damaged") from None
    return check_manifest(data, mpath)


def check_manifest(data: object, where: object) -> dict[str, Any]:
    """Check a manifest (parsed JSON) of any backend; errors name ``where`` (a file or a database)."""
    mpath = where
    if not isinstance(data, dict) or data.get("format") != "hhmem-store":
        raise StoreCorruptError(f"{mpath}: not an hhmem manifest (missing \"format\": \"hhmem-store\")")
    version = data.get("format_version")
    if not isinstance(version, int):
        raise StoreCorruptError(f"{mpath}: format_version missing or not an integer")
    if version > FORMAT_VERSION:
        raise StoreVersionError(
            f"{mpath}: store format version {version} is newer than this hhmem supports ({FORMAT_VERSION}); "
            f"upgrade hhmem (it was written by {data.get('versions', {}).get('hhmem', 'an unknown version')})"
        )
    for key, typ in (("model", str), ("dim", int)):
        if not isinstance(data.get(key), typ):
            raise StoreCorruptError(f"{mpath}: field {key!r} missing or of the wrong type")
    return data


def is_database_uri(location: object) -> bool:
    """Whether a store location is a PostgreSQL URI (``postgresql://...`` or ``postgres://...``)
    rather than a folder."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def store_manifest(location: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of the store at ``location`` (a folder or a PostgreSQL URI), or ``None`` when
    no store is there yet; reads it without opening the store."""
    if is_database_uri(location):
        from .pgstore import PgStore

        return PgStore.peek_manifest(str(location))
    path = Path(location)
    return read_manifest(path) if (path / MANIFEST).is_file() else None


def check_identity(manifest: dict[str, Any], where: object, *, model: str | None, dim: int | None) -> dict[str, Any]:
    """``manifest``, after checking that the encoder opening the store is the one that built it.

    Raises:
        StoreMismatchError: ``dim`` or ``model`` (when given) differ from the manifest's.
    """
    if dim is not None and dim != manifest["dim"]:
        raise StoreMismatchError(f"{where}: store keys have dimension {manifest['dim']}, the encoder gives {dim}")
    if model is not None and model != manifest["model"]:
        raise StoreMismatchError(
            f"{where}: store was built with encoder {manifest['model']!r}, not {model!r}; "
            "open it with the same encoder (keys from different models are not comparable)"
        )
    return manifest


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


class Store:
    """Records and keys of one hhmem store, in SQLite. Thread-safe; many processes may share it.

    Use :meth:`open`. Vectors are not interpreted here: callers pass L2-normalised float32 keys.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.dim: int = manifest["dim"]
        self.model: str = manifest["model"]
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        self._indexes_ready = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike, *, model: str | None = None, dim: int | None = None,
             create: bool = True, extra_manifest: Mapping[str, Any] | None = None) -> Store:
        """Open the store at ``path``, creating it when ``create`` and it does not exist.

        Args:
            path: the store folder, or a ``postgresql://`` URI (:class:`~hybrid.pgstore.PgStore`).
            model: encoder name; required to create, checked against the manifest otherwise.
            dim: key dimension; required to create, checked against the manifest otherwise.
            create: create a new store when the folder is missing or empty.
            extra_manifest: extra fields written into a new store's manifest.

        Raises:
            StoreCorruptError: truncated, damaged or foreign files (the message names the path).
            StoreVersionError: the store was written by a newer format version.
            StoreMismatchError: ``model``/``dim`` differ from the store's.
        """
        if is_database_uri(path):
            from .pgstore import PgStore

            return PgStore.open(str(path), model=model, dim=dim, create=create, extra_manifest=extra_manifest)
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise StoreError(f"{p}: a store is a folder, but this is a file")
        is_new = not p.exists() or not any(p.iterdir())
        if is_new:
            if not create:
                raise NotFoundError(f"{p}: no hhmem store here (create it with `hhmem add` or create=True)")
            if model is None or dim is None:
                raise InvalidInputError("creating a store needs model and dim")
            return cls._create(p, model=model, dim=dim, extra=extra_manifest or {})
        manifest = check_identity(read_manifest(p), p, model=model, dim=dim)
        db = p / DATABASE
        if not db.is_file():
            raise StoreCorruptError(f"{db}: database missing")
        damage = wal_damage(db)  # before any connection: SQLite would replay the log silently
        if damage:
            warnings.warn(f"{db}-wal: {damage}", RuntimeWarning, stacklevel=2)
        _check_database_readonly(db)
        conn = _connect(db)
        return cls(p, conn, manifest)

    @classmethod
    def _create(cls, p: Path, *, model: str, dim: int, extra: Mapping[str, Any]) -> Store:
        p.mkdir(parents=True, exist_ok=True)
        db = p / DATABASE
        conn = _connect(db)
        with conn:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            conn.executescript(_SCHEMA)
        manifest = {
            "format": "hhmem-store",
            "format_version": FORMAT_VERSION,
            "model": model,
            "dim": int(dim),
            "created_at": time.time(),
            "versions": _library_versions(),
            **dict(extra),
        }
        # The manifest is written last: a folder without it is not yet a store.
        atomic_write_text(p / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        return cls(p, conn, manifest)

    @property
    def _database(self) -> object:
        """The database as named in error messages."""
        return self.path / DATABASE

    @property
    def folder(self) -> Path | None:
        """The store folder, where derived files (association checkpoint, approximate index) are
        kept; ``None`` for a store in a database server, which keeps no files."""
        return self.path

    def _vector_param(self, vector: np.ndarray) -> Any:
        """A key vector as an SQL parameter of the ``keys.vector`` column (a float32 BLOB here)."""
        return _blob(vector)

    def has_table(self, name: str) -> bool:
        """Whether the table ``name`` exists (extension tables are made on first use)."""
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._conn.close()
                self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) under the store's lock."""
        with self._lock:
            self._check_open()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a read query under the store's lock."""
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """The connection, for reads, under the store's lock."""
        with self._lock:
            self._check_open()
            yield self._conn

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed")

    # ------------------------------------------------------------------ writes
    def add(
        self,
        texts: Sequence[str],
        keys: Sequence[Sequence[Key]],
        *,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        created_at: Sequence[float | None] | None = None,
        dedupe: bool = False,
        on_insert: Callable[[sqlite3.Connection, list[int], list[str]], None] | None = None,
    ) -> list[int]:
        """Insert memories and their keys in one transaction; returns their ids in order.

        Args:
            created_at: one creation time (epoch seconds, ``None``: now) per text.
            dedupe: a text already stored in ``namespace`` (or earlier in ``texts``) is not stored
                again: its existing id is returned in its place (checked inside the transaction,
                so two processes adding the same text store it once).
            on_insert: ``on_insert(conn, new_ids, new_texts)`` runs inside that transaction, for
                rows derived from the newly stored memories (concept synapses) that must be
                stored or lost with them.
        """
        namespace = validate_namespace(namespace)
        metas = [validate_metadata(m, name=f"metadata[{i}]") for i, m in enumerate(metadata or [None] * len(texts))]
        times = list(created_at) if created_at is not None else [None] * len(texts)
        if len(metas) != len(texts) or len(keys) != len(texts) or len(times) != len(texts):
            raise InvalidInputError(
                f"got {len(texts)} texts, {len(keys)} key lists, {len(metas)} metadata entries and "
                f"{len(times)} times; they must match"
            )
        for i, (text, ks) in enumerate(zip(texts, keys)):
            check_unicode(text, f"texts[{i}]")
            if not ks:
                raise InvalidInputError(f"memory {i} has no key")
            self._check_keys(ks, f"memory {i}")
        if dedupe:
            self._ensure_indexes()
        now = time.time()
        with self.transaction() as conn:
            known = self._find_texts(conn, namespace, texts) if dedupe else {}
            # Each text is an id already stored, or the row (in new_rows) that stores it.
            slots: list[tuple[int | None, int]] = []
            first_row: dict[str, int] = {}
            new_rows: list[tuple] = []
            new_keys: list[Sequence[Key]] = []
            for text, ks, meta, at in zip(texts, keys, metas, times):
                if text in known:
                    slots.append((known[text], -1))
                elif dedupe and text in first_row:
                    slots.append((None, first_row[text]))
                else:
                    first_row[text] = len(new_rows)
                    slots.append((None, len(new_rows)))
                    new_rows.append((namespace, text, json.dumps(meta, sort_keys=True),
                                     now if at is None else float(at), now))
                    new_keys.append(ks)
            new = self._insert_memories(conn, new_rows)
            conn.executemany(
                "INSERT INTO keys(memory_id, kind, text, vector) VALUES (?,?,?,?)",
                [(mid, key.kind, key.text, self._vector_param(key.vector)) for mid, ks in zip(new, new_keys) for key in ks],
            )
            ids = [mid if mid is not None else new[row] for mid, row in slots]
            new_texts = [row[1] for row in new_rows]
            if on_insert is not None and new:
                on_insert(conn, new, new_texts)
            conn.executemany(
                "INSERT INTO changes(memory_id, op, at) VALUES (?, 'add', ?)", [(mid, now) for mid in new]
            )
        return ids

    @staticmethod
    def _insert_memories(conn: Any, rows: Sequence[tuple]) -> list[int]:
        """Insert ``(namespace, text, metadata, created_at, updated_at)`` rows; their ids in order."""
        return [int(conn.execute("INSERT INTO memories(namespace, text, metadata, created_at, updated_at) "
                                 "VALUES (?,?,?,?,?)", row).lastrowid) for row in rows]

    def find_texts(self, namespace: str, texts: Sequence[str]) -> dict[str, int]:
        """``text -> id`` of the memories of ``namespace`` whose text is exactly one of ``texts``
        (the oldest id when a text is stored more than once)."""
        self._ensure_indexes()
        with self._connection() as conn:
            return self._find_texts(conn, validate_namespace(namespace), texts)

    @staticmethod
    def _find_texts(conn: sqlite3.Connection, namespace: str, texts: Sequence[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(texts))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            rows = conn.execute(
                f"SELECT text, MIN(id) FROM memories WHERE namespace = ? AND text IN ({','.join('?' * len(part))}) "
                "GROUP BY text", [namespace, *part]).fetchall()
            found.update({t: int(i) for t, i in rows})
        return found

    def _ensure_indexes(self) -> None:
        """Create the indexes of :data:`_LATE_INDEXES` once (stores made before they existed lack them)."""
        if self._indexes_ready:
            return
        present = {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = [sql for name, sql in _LATE_INDEXES.items() if name not in present]
        if missing:
            with self.transaction() as conn:
                for sql in missing:
                    conn.execute(sql)
        self._indexes_ready = True
    def _check_keys(self, keys: Sequence[Key], name: str) -> None:
        for key in keys:
            if key.vector.shape != (self.dim,):
                raise InvalidInputError(f"{name}: key vector shape {key.vector.shape}, expected ({self.dim},)")
            if not np.isfinite(key.vector).all() or not key.vector.any():
                raise InvalidInputError(f"{name}: key vector has NaN or infinite entries or is all zeros")
            if key.text is not None:
                check_unicode(key.text, f"{name}: key text")

    def update(
        self,
        memory_id: int,
        *,
        text: str | None = None,
        keys: Sequence[Key] | None = None,
        metadata: Mapping[str, Any] | None = None,
        on_update: Callable[[sqlite3.Connection, int], None] | None = None,
    ) -> None:
        """Replace a memory's text (with its keys) and/or metadata, in one transaction
        (``on_update(conn, id)`` runs inside it after a text change)."""
        meta = validate_metadata(metadata) if metadata is not None else None
        if (text is None) != (keys is None):
            raise InvalidInputError("update needs the new keys together with the new text")
        (memory_id,) = checked_ids([memory_id])
        if text is not None and keys is not None:
            check_unicode(text, "text")
            self._check_keys(keys, f"memory {memory_id}")
        now = time.time()
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM memories WHERE id = ?", (memory_id,)).fetchone() is None:
                raise NotFoundError(f"memory {memory_id} not found in {self.path}")
            if text is not None and keys is not None:
                conn.execute("UPDATE memories SET text = ?, updated_at = ? WHERE id = ?", (text, now, memory_id))
                conn.execute("DELETE FROM keys WHERE memory_id = ?", (memory_id,))
                conn.executemany(
                    "INSERT INTO keys(memory_id, kind, text, vector) VALUES (?,?,?,?)",
                    [(memory_id, key.kind, key.text, self._vector_param(key.vector)) for key in keys],
                )
                if on_update is not None:
                    on_update(conn, memory_id)
            if meta is not None:
                conn.execute(
                    "UPDATE memories SET metadata = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(meta, sort_keys=True), now, memory_id),
                )
            conn.execute("INSERT INTO changes(memory_id, op, at) VALUES (?, 'update', ?)", (memory_id, now))

    def delete(self, memory_ids: Sequence[int], *, namespace: str | None = None) -> list[int]:
        """Delete memories (and their keys); returns the ids that existed and were deleted.

        With ``namespace``, only memories of that namespace are deleted.
        """
        ids = checked_ids(memory_ids)
        if not ids:
            return []
        now = time.time()
        deleted: list[int] = []
        with self.transaction() as conn:
            for mid in ids:
                sql, params = "DELETE FROM memories WHERE id = ?", [mid]
                if namespace is not None:
                    sql += " AND namespace = ?"
                    params.append(namespace)
                if conn.execute(sql, params).rowcount:
                    deleted.append(mid)
            conn.executemany(
                "INSERT INTO changes(memory_id, op, at) VALUES (?, 'delete', ?)", [(m, now) for m in deleted]
            )
        return deleted

    def delete_namespace(self, namespace: str) -> list[int]:
        """Delete every memory of ``namespace`` (one transaction); returns the ids deleted."""
        namespace = validate_namespace(namespace)
        ids = [int(r[0]) for r in self.query("SELECT id FROM memories WHERE namespace = ? ORDER BY id", (namespace,))]
        return self.delete(ids, namespace=namespace)

    # ------------------------------------------------------------------- reads
    def get(self, memory_id: int, *, with_keys: bool = False) -> MemoryRecord:
        """One record. Raises :class:`NotFoundError`, or :class:`StoreCorruptError` for a damaged row."""
        (mid,) = checked_ids([memory_id])
        found = self._fetch([mid], with_keys=with_keys).get(mid)
        if found is None:
            raise NotFoundError(f"memory {mid} not found in {self.path}")
        if isinstance(found, str):
            raise StoreCorruptError(f"{self._database}: memory {mid} is damaged ({found}); "
                                    "`hhmem check --repair` quarantines it")
        return found

    def get_many(self, memory_ids: Sequence[int], *, with_keys: bool = False) -> list[MemoryRecord]:
        """Records for the ids that exist, in the order asked (missing ids are left out; so are
        damaged rows, with a warning naming each)."""
        found = self._fetch(memory_ids, with_keys=with_keys)
        out = []
        for mid, rec in found.items():
            if isinstance(rec, str):
                self._warn_damaged(mid, rec)
            else:
                out.append(rec)
        return out

    def _fetch(self, memory_ids: Sequence[int], *, with_keys: bool) -> dict[int, MemoryRecord | str]:
        """Id -> record, or the reason the row cannot be read, in the order asked."""
        ids = checked_ids(memory_ids)
        if not ids:
            return {}
        found: dict[int, MemoryRecord | str] = {}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            for row in self.query(f"SELECT {_RECORD_COLUMNS} FROM memories WHERE id IN ({marks})", part):
                found[row[0]] = decode_row(row)
            if with_keys:
                for mid, kind, ktext, blob in self.query(
                    f"SELECT memory_id, kind, text, vector FROM keys WHERE memory_id IN ({marks}) ORDER BY id", part
                ):
                    rec = found.get(mid)
                    if isinstance(rec, MemoryRecord):
                        rec.keys.append(Key(kind, ktext, np.frombuffer(blob, dtype="<f4").copy()))
        return {i: found[i] for i in ids if i in found}

    def records(self) -> list[MemoryRecord]:
        """Every readable memory in id order (damaged rows are skipped with a warning)."""
        out = []
        for row in self.query(f"SELECT {_RECORD_COLUMNS} FROM memories ORDER BY id"):
            rec = decode_row(row)
            if isinstance(rec, str):
                self._warn_damaged(row[0], rec)
            else:
                out.append(rec)
        return out

    def _warn_damaged(self, memory_id: int, reason: str) -> None:
        warnings.warn(f"{self._database}: memory {memory_id} is damaged ({reason}) and was skipped; "
                      "`hhmem check` lists damaged memories and `hhmem check --repair` quarantines them",
                      DamagedRowWarning, stacklevel=3)

    # ------------------------------------------------------------ damage
    def damaged(self) -> list[dict[str, Any]]:
        """Rows that cannot be read back faithfully: ``[{"id", "reason"}]`` in id order.

        A row is damaged when its text, namespace or metadata is not valid UTF-8, its metadata is
        not a JSON object of valid text, or one of its key vectors has the wrong size, a NaN or
        infinite entry, or no direction (all zeros).
        """
        reasons: dict[int, list[str]] = {}
        for row in self.query(f"SELECT {_RECORD_COLUMNS} FROM memories ORDER BY id"):
            rec = decode_row(row)
            if isinstance(rec, str):
                reasons.setdefault(row[0], []).append(rec)
        _, _, bad = self._vectors(self.query("SELECT memory_id, vector FROM keys ORDER BY id"))
        for mid, reason in bad:
            reasons.setdefault(mid, []).append(reason)
        return [{"id": mid, "reason": "; ".join(dict.fromkeys(rs))} for mid, rs in sorted(reasons.items())]

    def quarantine(self, damaged: Sequence[Mapping[str, Any]]) -> list[int]:
        """Move damaged rows (as :meth:`damaged` lists them) out of ``memories`` into the
        ``quarantine`` table (raw bytes kept, with the reason), in one transaction; returns the ids moved."""
        now = time.time()
        moved = []
        with self.transaction() as conn:
            conn.execute(_QUARANTINE_SCHEMA)
            for item in damaged:
                (mid,) = checked_ids([item["id"]])
                conn.execute(
                    "INSERT INTO quarantine(memory_id, namespace, text, metadata, created_at, updated_at, keys, "
                    "reason, quarantined_at) SELECT id, CAST(namespace AS BLOB), CAST(text AS BLOB), "
                    "CAST(metadata AS BLOB), created_at, updated_at, "
                    "(SELECT COUNT(*) FROM keys WHERE memory_id = memories.id), ?, ? FROM memories WHERE id = ?",
                    (str(item.get("reason", "")), now, mid),
                )
                if conn.execute("DELETE FROM memories WHERE id = ?", (mid,)).rowcount:
                    moved.append(mid)
            conn.executemany("INSERT INTO changes(memory_id, op, at) VALUES (?, 'delete', ?)", [(m, now) for m in moved])
        return moved

    def list(self, *, namespace: str | None = None, limit: int | None = 100, offset: int = 0) -> list[MemoryRecord]:
        """Memories in id order, optionally of one namespace; ``limit=None``: all of them."""
        if (limit is not None and limit < 0) or offset < 0:
            raise InvalidInputError(f"limit and offset must be >= 0, got {limit} and {offset}")
        if limit is not None:
            check_int64(limit, "limit")
        check_int64(offset, "offset")
        sql = "SELECT id FROM memories"
        params: list[Any] = []
        if namespace is not None:
            sql += " WHERE namespace = ?"
            params.append(validate_namespace(namespace))
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [_NO_LIMIT if limit is None else limit, offset]
        return self.get_many([r[0] for r in self.query(sql, params)])

    def count(self, *, namespace: str | None = None) -> int:
        if namespace is None:
            return int(self.query("SELECT COUNT(*) FROM memories")[0][0])
        return int(self.query("SELECT COUNT(*) FROM memories WHERE namespace = ?", (namespace,))[0][0])

    def namespaces(self) -> dict[str, int]:
        """Namespace -> number of memories."""
        return {ns: n for ns, n in self.query("SELECT namespace, COUNT(*) FROM memories GROUP BY namespace ORDER BY 1")}

    def ids_matching(self, *, namespace: str | None = None, where: Mapping[str, Any] | None = None,
                     since: float | None = None, until: float | None = None) -> np.ndarray:
        """Ids of the memories in ``namespace`` whose metadata equals every ``where`` item and whose
        ``created_at`` lies in ``[since, until]`` (epoch seconds; ``None``: open bound)."""
        clauses, params = [], []
        if namespace is not None:
            clauses.append("namespace = ?")
            params.append(namespace)
        for key, value in validate_where(where).items():
            path = f'$."{key}"'
            if value is None:
                clauses.append("json_extract(metadata, ?) IS NULL")
                params.append(path)
            elif isinstance(value, bool):
                clauses.append("json_type(metadata, ?) = ?")
                params += [path, "true" if value else "false"]
            else:
                clauses.append("json_extract(metadata, ?) = ?")
                params += [path, value]
        for op, bound in ((">=", since), ("<=", until)):
            if bound is not None:
                clauses.append(f"created_at {op} ?")
                params.append(float(bound))
        sql = "SELECT id FROM memories" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return np.asarray([r[0] for r in self.query(sql, params)], dtype=np.int64)

    def all_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Every key: ``(memory_ids [m], vectors [m, d])``."""
        return self._keys_where("", ())

    def keys_of(self, memory_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Keys of the given memories: ``(memory_ids [m], vectors [m, d])``."""
        ids = [int(i) for i in memory_ids]
        mids, vecs = [], []
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            a, b = self._keys_where(f"WHERE memory_id IN ({','.join('?' * len(part))})", part)
            mids.append(a)
            vecs.append(b)
        if not mids:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        return np.concatenate(mids), np.concatenate(vecs)

    def _keys_where(self, clause: str, params: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        mids, vecs, bad = self._vectors(self.query(f"SELECT memory_id, vector FROM keys {clause} ORDER BY id", params))
        for mid in dict.fromkeys(m for m, _ in bad):
            self._warn_damaged(mid, next(r for m, r in bad if m == mid))
        return mids, vecs

    def _vectors(self, rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
        """``(memory_ids [m], vectors [m, d], damaged [(memory id, reason)])`` of key rows; a row
        of the wrong size, with a NaN/infinite entry or all zeros is left out and reported."""
        size = self.dim * 4
        bad = [(int(r[0]), f"a key vector has {len(r[1])} bytes, expected {size}") for r in rows if len(r[1]) != size]
        if bad:
            rows = [r for r in rows if len(r[1]) == size]
        mids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), self.dim).copy()
        with np.errstate(over="ignore", invalid="ignore"):
            sq = np.einsum("ij,ij->i", vecs, vecs)  # one pass: NaN/inf entries make it non-finite
        ok = np.isfinite(sq) & (sq > 0)
        if not ok.all():
            bad += [(int(m), "a key vector has NaN or infinite entries or is all zeros") for m in mids[~ok]]
            mids, vecs = mids[ok], vecs[ok]
        return mids, vecs, bad

    def disk_bytes(self) -> dict[str, int]:
        """Bytes of the database on disk, by part: ``records`` (memories and their indexes), ``keys``
        (key vectors), ``links`` (association tables), ``change_log``, ``other`` (schema, free
        pages), and ``database_file`` (``memory.db`` plus its WAL). Parts come from SQLite's
        ``dbstat`` table (pages in use); without it, from the stored lengths of texts and vectors."""
        db = self.path / DATABASE
        file_bytes = sum(p.stat().st_size for p in (db, db.with_name(DATABASE + "-wal")) if p.exists())
        parts = {"records": 0, "keys": 0, "links": 0, "change_log": 0, "other": 0}
        try:
            rows = self.query("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        except sqlite3.OperationalError:  # SQLite built without dbstat
            rows = []
            parts["records"] = int(self.query(
                "SELECT COALESCE(SUM(LENGTH(text) + LENGTH(metadata) + 24), 0) FROM memories")[0][0])
            parts["keys"] = int(self.query(
                "SELECT COALESCE(SUM(LENGTH(vector) + COALESCE(LENGTH(text), 0) + 16), 0) FROM keys")[0][0])
        for name, size in rows:
            parts[disk_part(name)] += int(size)
        return {**parts, "database_file": file_bytes}

    # --------------------------------------------------------- change tracking
    def last_change(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(seq), 0) FROM changes")[0][0])

    def changes_since(self, seq: int) -> tuple[int, list[int]]:
        """``(new last seq, memory ids changed after seq)`` for incremental index refresh."""
        rows = self.query("SELECT seq, memory_id FROM changes WHERE seq > ? ORDER BY seq", (seq,))
        if not rows:
            return seq, []
        return int(rows[-1][0]), sorted({int(r[1]) for r in rows})

    def data_version(self) -> int:
        """SQLite's ``data_version``: changes when another connection commits."""
        return int(self.query("PRAGMA data_version")[0][0])

    # ------------------------------------------------------- extension tables
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM store_meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO store_meta(key, value) VALUES (?, ?)", (key, value))


def disk_part(name: str) -> str:
    """The part of :meth:`Store.disk_bytes` a table or index of this name belongs to."""
    return ("records" if name.startswith(("memories", "sqlite_autoindex_memories")) else
            "keys" if name.startswith("keys") else
            "links" if name.startswith("assoc_") else
            "change_log" if name == "changes" else "other")


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db), timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_database_readonly(db: Path) -> None:
    """Check an existing database without writing to it: SQLite header, application id, integrity."""
    with open(db, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise StoreCorruptError(f"{db}: not an SQLite database (truncated or foreign file); the store is damaged")
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60.0)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StoreCorruptError(f"{db}: SQLite database not written by hhmem (application_id {app_id:#x})")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > FORMAT_VERSION:
                raise StoreVersionError(f"{db}: database format {version} is newer than supported ({FORMAT_VERSION})")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise StoreCorruptError(f"{db}: integrity check failed: {'; '.join(str(r[0]) for r in check[:3])}")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = {"memories", "keys", "changes", "store_meta"} - tables
            if missing:
                raise StoreCorruptError(f"{db}: tables missing: {', '.join(sorted(missing))}")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{db}: database is damaged or truncated ({exc})") from None
