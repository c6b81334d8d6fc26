"""A look at an SQLite write-ahead log before the database is opened: damage that SQLite would
silently skip.

SQLite replays the WAL frame by frame and stops at the first frame whose salt or running checksum
does not match; every frame after it is ignored. A torn last frame (a crash mid-write, before the
commit was acknowledged) is normal. But a damaged frame *followed by commit frames of the same WAL
generation* means acknowledged writes will be dropped without an error: that is what
:func:`wal_damage` reports, so that :meth:`hybrid.store.Store.open` can warn before SQLite reads
the log (and, at the last close, checkpoints it away).

Checksum (SQLite ``walChecksumBytes``) over 32-bit words ``x`` in the byte order the magic number
names: ``s1 += x[i] + s2; s2 += x[i+1] + s1``, i.e. with ``S = (s1, s2)`` and ``c = (x[i], x[i] + x[i+1])``,
``S ← M S + c`` for ``M = [[1, 1], [1, 2]]`` (mod 2³²), which NumPy evaluates a page at a time.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

WAL_MAGIC = (0x377F0682, 0x377F0683)
WAL_HEADER = 32
FRAME_HEADER = 24
#: WAL files larger than this are not scanned (SQLite checkpoints the log long before).
MAX_WAL_BYTES = 256 * 1024 * 1024
_MOD = np.uint64(1 << 32)


@lru_cache(maxsize=4)
def _powers(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(M^(m-1-j) for j < m as [m, 2, 2], M^m)`` mod 2³², as uint64."""
    out = np.empty((m + 1, 2, 2), dtype=np.uint64)
    a, b, c, d = 1, 0, 0, 1  # identity
    for k in range(m + 1):
        out[k] = ((a, b), (c, d))
        a, b, c, d = (a + c) & 0xFFFFFFFF, (b + d) & 0xFFFFFFFF, (a + 2 * c) & 0xFFFFFFFF, (b + 2 * d) & 0xFFFFFFFF
    return out[m - 1 :: -1].copy(), out[m]


def _checksum(words: np.ndarray, s: tuple[int, int]) -> tuple[int, int]:
    """SQLite's running checksum over ``words`` (uint64 view of u32 words) starting from ``s``."""
    x0, x1 = words[0::2], words[1::2]
    c = np.stack([x0, (x0 + x1) % _MOD], axis=1)  # [m, 2]
    steps, total = _powers(len(x0))
    acc = ((steps * c[:, None, :]) % _MOD).sum(axis=(0, 2)) % _MOD
    start = ((total * np.asarray(s, dtype=np.uint64)[None, :]) % _MOD).sum(axis=1) % _MOD
    out = (acc + start) % _MOD
    return int(out[0]), int(out[1])


def wal_damage(db: Path) -> str | None:
    """What is wrong with ``<db>-wal`` that SQLite would skip silently, or None."""
    wal = Path(f"{db}-wal")
    try:
        if not wal.is_file() or not WAL_HEADER <= wal.stat().st_size <= MAX_WAL_BYTES:
            return None
        data = wal.read_bytes()
    except OSError:
        return None
    magic, _, page_size, _, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:WAL_HEADER])
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        return "the write-ahead log has no valid header; SQLite ignores it and every write it holds"
    dtype = np.dtype(">u4" if magic & 1 else "<u4")
    frame = FRAME_HEADER + page_size
    n = (len(data) - WAL_HEADER) // frame
    if _checksum(np.frombuffer(data[:24], dtype=dtype).astype(np.uint64), (0, 0)) != (c1, c2):
        return f"the write-ahead log's header checksum is wrong; SQLite ignores its {n} frames"
    s = (c1, c2)
    for i in range(n):
        off = WAL_HEADER + i * frame
        head = struct.unpack(">6I", data[off : off + FRAME_HEADER])
        if (head[2], head[3]) != (salt1, salt2):
            return None  # the end of this generation of the log (older frames follow): normal
        words = np.frombuffer(data[off : off + 8] + data[off + FRAME_HEADER : off + frame], dtype=dtype)
        s = _checksum(words.astype(np.uint64), s)
        if s != (head[4], head[5]):
            later = [j for j in range(i + 1, n) if _commit_of(data, WAL_HEADER + j * frame, salt1, salt2)]
            if later:
                return (f"frame {i + 1} of the write-ahead log is damaged; SQLite will drop it and the "
                        f"{len(later)} committed transaction(s) after it (acknowledged writes)")
            return None  # a torn last write: never acknowledged
    return None


def _commit_of(data: bytes, off: int, salt1: int, salt2: int) -> bool:
    _, db_size, s1, s2 = struct.unpack(">4I", data[off : off + 16])
    return db_size != 0 and (s1, s2) == (salt1, salt2)
