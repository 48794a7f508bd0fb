"""Logging for the long-running commands (serve, worker): one line per record, on stderr."""

from __future__ import annotations

import logging


def log_to_stderr() -> None:
    """Alembic's per-connection notes ("Context impl SQLiteImpl.") are left out: every
    process that checks the schema would print them again."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
