"""What the operators' commands (`exports`, `systems`) share: the services on the database, the
refusals on stderr, and tables that fit a terminal."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from application.operations import Refused
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.cli.database import require_current_schema, require_existing
from entrypoints.cli.terminal import printable
from entrypoints.config import Settings

REFUSED_STATUS = 1
CELL_LIMIT = 60  # characters of a cell (a message, an error) a table shows


@contextlib.contextmanager
def database_services(settings: Settings) -> Iterator[Services]:
    """The services on an existing, migrated database (never one made on the way), disposed after."""
    require_existing(settings.database_url)
    services = bootstrap(settings)
    try:
        require_current_schema(services)
        yield services
    finally:
        services.close()


def report_refused(refused: Refused, err: TextIO | None = None) -> None:
    print(f"export-responses: {refused.message} ({refused.code})", file=err or sys.stderr)


def print_json(document, out: TextIO | None = None) -> None:
    print(json.dumps(document, indent=2), file=out or sys.stdout)


def table(headings: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns as wide as their widest cell; a long cell is cut short with "..."."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(heading), *(len(row[index]) for row in cells)]) for index, heading in enumerate(headings)]
    lines = [headings, *cells]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(value: object) -> str:
    return "-" if value is None else printable(str(value), CELL_LIMIT)
