"""Keep other libraries' debug logging off the terminal.

bm25s sets its logger to DEBUG when imported; once anything installs a root handler (the MCP SDK
does, at start-up) its "Building index from ..." lines reach stderr. A filter on that logger
survives bm25s's own ``setLevel`` at import, so it can be installed before bm25s is imported.
"""

from __future__ import annotations

import logging

#: Loggers whose records below WARNING are dropped unless the user lowers the level themselves.
NOISY_LOGGERS = ("bm25s",)


def _warning_or_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def quiet_library_loggers() -> None:
    """Drop the DEBUG/INFO records of :data:`NOISY_LOGGERS` (idempotent)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _warning_or_above not in logger.filters:
            logger.addFilter(_warning_or_above)
