"""Checks at the door: what cannot be stored faithfully is refused with :class:`InvalidInputError`.

SQLite stores text as UTF-8 and integers as signed 64-bit, and JSON metadata is read back with a
recursive parser; so a lone surrogate (``"\\udcff"``, what Python makes of a non-UTF-8 byte in a
command-line argument or file name), an integer beyond 64 bits, or metadata nested thousands deep
would either fail deep inside a write (``OverflowError``, ``UnicodeEncodeError``) or be stored and
break every later read of that row. These helpers refuse them up front, naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidInputError

#: SQLite's integer range (signed 64-bit).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Deepest nesting of objects/arrays accepted in metadata (the top-level object is depth 1).
MAX_METADATA_DEPTH = 32


def check_unicode(value: str, name: str) -> str:
    """``value`` unchanged when it encodes to UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} contains a lone surrogate {value[exc.start]!r} at character {exc.start}, which is not "
            "valid Unicode text (often a non-UTF-8 byte decoded with errors='surrogateescape'); "
            "it cannot be stored as UTF-8"
        ) from None
    return value


def check_int64(value: int, name: str) -> int:
    """``value`` unchanged when it fits SQLite's signed 64-bit integers."""
    if not INT64_MIN <= value <= INT64_MAX:
        shown = str(value) if value.bit_length() <= 128 else f"an integer of {value.bit_length()} bits"
        raise InvalidInputError(f"{name} is {shown}, outside the 64-bit integer range [-2**63, 2**63 - 1]")
    return value


def memory_ids(ids: Iterable[Any], name: str = "memory id") -> list[int]:
    """Integers (not bools) in the 64-bit range, as a list of ``int``."""
    out = []
    for v in ids:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise InvalidInputError(f"{name} must be an integer, got {type(v).__name__}: {v!r:.40}")
        out.append(check_int64(int(v), name))
    return out


def check_json_value(value: Any, name: str, *, max_depth: int = MAX_METADATA_DEPTH) -> None:
    """Walk a JSON-like value without recursion: keys and strings valid UTF-8, integers within 64
    bits, floats finite, nesting at most ``max_depth`` deep. Other types are left to ``json``."""
    stack: list[tuple[Any, str, int]] = [(value, name, 1)]
    while stack:
        v, where, depth = stack.pop()
        if isinstance(v, str):
            check_unicode(v, where)
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            check_int64(v, where)
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise InvalidInputError(f"{where} must be a finite number, got {v}")
        elif isinstance(v, (Mapping, list, tuple)):
            if depth > max_depth:
                raise InvalidInputError(f"{where} is nested more than {max_depth} levels deep")
            if isinstance(v, Mapping):
                for key, item in v.items():
                    if isinstance(key, str):
                        check_unicode(key, f"a key of {where}")
                    stack.append((item, f"{where}[{key!r}]", depth + 1))
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(v))
