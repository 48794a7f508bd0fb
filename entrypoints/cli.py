"""The `export-responses` command line: migrate, load, seed, serve."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapters.sql import migrate as migrations
from adapters.sql.engine import create_engine
from entrypoints import data_commands, fake_ccd_command, status_command, worker_command
from entrypoints.config import ConfigError, Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environ()
        return args.run(args, settings) or 0
    except ConfigError as error:
        print(f"export-responses: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="export-responses", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="create or upgrade the schema, with the standard offices")
    migrate.set_defaults(run=run_migrate)

    serve = commands.add_parser("serve", help="migrate if needed, then serve the API under gunicorn")
    serve.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT (default %(default)s)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default %(default)s)")
    serve.set_defaults(run=run_serve)

    data_commands.add_to(commands)
    worker_command.add_to(commands)
    fake_ccd_command.add_to(commands)
    status_command.add_to(commands)
    return parser


def run_migrate(args, settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    migrations.upgrade(engine)
    print(f"schema is current on {engine.url.render_as_string(hide_password=True)}")
    return 0


def run_serve(args, settings: Settings) -> int:
    from entrypoints.server import Server  # noqa: PLC0415 - gunicorn only when serving

    engine = create_engine(settings.database_url)
    if not migrations.is_current(engine):
        migrations.upgrade(engine)
    engine.dispose()
    Server(settings, bind=args.bind, workers=args.workers).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
