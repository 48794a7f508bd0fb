"""The `export-responses` command line: the API, the export worker and the tools around them."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from adapters.sql import migrate as migrations
from adapters.sql.database import DatabaseError
from application.ports import StoreUnavailable
from entrypoints.cli import data as data_commands
from entrypoints.cli import exports as exports_command
from entrypoints.cli import fake_ccd as fake_ccd_command
from entrypoints.cli import schema, serve
from entrypoints.cli import status as status_command
from entrypoints.cli import systems as systems_command
from entrypoints.cli import worker as worker_command
from entrypoints.cli.database import DatabaseProblem, unusable
from entrypoints.config import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environ()
    except ConfigError as error:
        print(f"export-responses: {error}", file=sys.stderr)
        return 2
    try:
        return args.run(args, settings) or 0
    except (DatabaseProblem, migrations.Refused) as problem:
        print(f"export-responses: {problem}", file=sys.stderr)
        return 1
    except (StoreUnavailable, DatabaseError) as error:
        print(f"export-responses: {unusable(error, settings.database_url)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before a command took over its signals
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="export-responses",
        description=__doc__.strip(),
        epilog="Each command's --help lists the environment variables it reads.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {importlib.metadata.version('export-responses')}"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    schema.add_to(commands)
    serve.add_to(commands)
    data_commands.add_to(commands)
    worker_command.add_to(commands)
    fake_ccd_command.add_to(commands)
    status_command.add_to(commands)
    exports_command.add_to(commands)
    systems_command.add_to(commands)
    return parser
