"""Exceptions raised by hhmem. Each message names the argument or path, the value and what is allowed."""

from __future__ import annotations


class HHMemError(Exception):
    """Base class of every error hhmem raises on purpose."""


class InvalidInputError(HHMemError, ValueError):
    """A value passed in by the user is not acceptable (empty text, NaN vector, bad shape...)."""


class StoreError(HHMemError):
    """A store cannot be opened or written."""


class StoreCorruptError(StoreError):
    """A store's files are truncated, damaged or were not written by hhmem."""


class StoreVersionError(StoreError):
    """A store was written by a newer, unknown format version."""


class StoreMismatchError(StoreError):
    """The store was built with another encoder or dimension than the one asked for."""


class NotFoundError(HHMemError, KeyError):
    """An id or namespace that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""
