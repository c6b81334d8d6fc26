"""Times of memories: parsing ``created_at`` and the ``since``/``until`` bounds of a search.

A time is stored as epoch seconds (UTC, float). Every interface accepts:

- a number: epoch seconds (``1683553560`` or ``1683553560.5``);
- an ISO 8601 string: ``"2023-05-08"``, ``"2023-05-08T13:56:00"``, ``"2023-05-08T13:56:00+02:00"``,
  ``"2023-05-08T13:56:00Z"``; a time without an offset is read as UTC;
- a numeric string (``"1683553560"``): epoch seconds;
- for search bounds, a duration before now: ``"90s"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"``.

Example:
    >>> parse_time("2023-05-08T13:56:00Z")
    1683554160.0
    >>> parse_time(1683554160)
    1683554160.0
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from datetime import datetime, timezone

from .errors import InvalidInputError

#: Seconds per unit of a relative duration (``7d``: seven days before now).
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_ALLOWED = ("epoch seconds (a number), an ISO 8601 date/time such as 2023-05-08 or 2023-05-08T13:56:00Z"
            ", or a duration before now such as 7d, 12h, 30m")


def parse_time(value: object, *, name: str = "created_at", relative: bool = True,
               now: float | None = None) -> float:
    """Epoch seconds (UTC) of ``value``; see the module docstring for what is accepted.

    Args:
        value: a number, an ISO 8601 string, a numeric string or (``relative``) a duration.
        name: the argument's name, used in error messages.
        relative: accept durations before ``now`` (``"7d"``).
        now: the present, for durations (default ``time.time()``).

    Raises:
        InvalidInputError: anything else; the message names the argument and the value.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"{name} must be {_ALLOWED}; got {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, datetime):
        out = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    elif isinstance(value, str):
        out = _parse_string(value, name, relative, now)
    else:
        raise InvalidInputError(f"{name} must be {_ALLOWED}; got {type(value).__name__} {value!r}")
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be a finite time, got {value!r}")
    return out


def _parse_string(value: str, name: str, relative: bool, now: float | None) -> float:
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = _DURATION.match(text)
    if m is not None and relative:
        return (time.time() if now is None else now) - float(m.group(1)) * DURATION_UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise InvalidInputError(f"{name} must be {_ALLOWED}; got {value!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def parse_times(values: object, n: int, *, name: str = "created_at") -> list[float | None]:
    """``n`` creation times from one value (for all), a list of ``n`` values (``None``: now), or ``None``."""
    if values is None:
        return [None] * n
    if isinstance(values, Sequence) and not isinstance(values, str):
        if len(values) != n:
            raise InvalidInputError(f"{name} has {len(values)} entries for {n} texts")
        return [None if v is None else parse_time(v, name=f"{name}[{i}]", relative=False) for i, v in enumerate(values)]
    return [parse_time(values, name=name, relative=False)] * n


def time_range(since: object = None, until: object = None) -> tuple[float | None, float | None]:
    """Checked ``(since, until)`` bounds of a search in epoch seconds (``None``: open)."""
    lo = None if since is None else parse_time(since, name="since")
    hi = None if until is None else parse_time(until, name="until")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInputError(f"since ({since!r}) is after until ({until!r}); nothing can match")
    return lo, hi


#: Date formats of benchmark files: LoCoMo ("1:56 pm on 8 May, 2023") and LongMemEval
#: ("2023/05/20 (Sat) 02:21"); read as UTC.
DATASET_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%Y/%m/%d (%a) %H:%M", "%Y/%m/%d")


def parse_dataset_date(text: object) -> float | None:
    """Epoch seconds of a benchmark's session date string, or ``None`` when it has none or another form.

    Example:
        >>> parse_dataset_date("1:56 pm on 8 May, 2023")
        1683554160.0
        >>> parse_dataset_date("2023/05/20 (Sat) 02:21")
        1684549260.0
    """
    if not isinstance(text, str) or not text.strip():
        return None
    value = " ".join(text.split())
    for fmt in DATASET_DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def iso(t: float | None) -> str | None:
    """ISO 8601 (UTC, seconds) of epoch seconds, for display."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
