"""The `export-responses` command line: the API, the export worker and the tools around them."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
from collections.abc import Sequence

import attrs
import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql import migrate as migrations
from application.ports import StoreUnavailable
from entrypoints import data_commands, fake_ccd_command, logs, status_command, worker_command
from entrypoints.addresses import bind_problem
from entrypoints.api_token import local_token
from entrypoints.arguments import add_command, positive_int
from entrypoints.bootstrap import schema_engine
from entrypoints.config import ConfigError, Settings
from entrypoints.database import DatabaseProblem, prepare_folder, shown, unusable
from entrypoints.server import DEFAULT_THREADS, DEFAULT_WORKERS

LOG = logging.getLogger("export_responses")


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
    except (StoreUnavailable, sa.exc.SQLAlchemyError) as error:
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

    migrate = add_command(
        commands,
        "migrate",
        "create or upgrade the schema, with the standard offices; "
        "adopts the original ET API's database by adding only this service's extras",
    )
    migrate.add_argument("--dry-run", action="store_true", help="print the SQL it would run and change nothing")
    migrate.set_defaults(run=run_migrate)

    serve = add_command(commands, "serve", "migrate if needed, then serve the API under gunicorn")
    serve.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT (default %(default)s)")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=DEFAULT_WORKERS,
        help="gunicorn worker processes (default: twice the cores, %(default)s)",
    )
    serve.add_argument(
        "--threads", type=positive_int, default=DEFAULT_THREADS, help="threads per worker (default %(default)s)"
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve /api/ without authentication (legacy clients on a trusted network only)",
    )
    serve.set_defaults(run=run_serve)

    data_commands.add_to(commands)
    worker_command.add_to(commands)
    fake_ccd_command.add_to(commands)
    status_command.add_to(commands)
    return parser


def run_migrate(args, settings: Settings) -> int:
    prepare_folder(settings.database_url)
    engine = schema_engine(settings)
    try:
        if args.dry_run:
            print(migrations.dry_run(engine), end="")
            return 0
        kind = migrations.upgrade(engine)
    finally:
        engine.dispose()
    adopted = " (the original ET API's database, adopted)" if kind is migrations.DatabaseKind.ORIGINAL else ""
    print(f"schema is current on {shown(settings.database_url)}{adopted}")
    return 0


def run_serve(args, settings: Settings) -> int:
    from entrypoints.server import serve  # noqa: PLC0415 - gunicorn's arbiter only when serving

    problem = bind_problem(args.bind)
    if problem:  # before migrating: gunicorn would retry for five seconds, then fail
        print(f"export-responses serve: {problem}; stop what holds it, or choose another with --bind", file=sys.stderr)
        return 1
    logs.configure(settings.log_format)
    prepare_folder(settings.database_url)
    engine = schema_engine(settings)
    try:
        if not migrations.is_current(engine):
            migrations.upgrade(engine, adopt=False)  # adopting the original's database is `migrate`'s alone
            print(f"serve: migrated the schema on {shown(settings.database_url)}", file=sys.stderr)
    finally:
        engine.dispose()
    settings = _with_authentication(settings, no_auth=args.no_auth)
    serve(settings, bind=args.bind, workers=args.workers, threads=args.threads)
    return 0


def _with_authentication(settings: Settings, no_auth: bool) -> Settings:
    if no_auth or not settings.api_auth:
        LOG.warning(
            "WARNING: /api/ is served WITHOUT authentication: anyone who can reach this service "
            "can export responses. Use it only for legacy clients on a trusted network."
        )
        return attrs.evolve(settings, api_auth=False)
    if settings.api_tokens:
        return settings
    token, path = local_token(settings.data_dir)
    print(
        f"serve: API_TOKENS is not set, so clients use the token kept in {path} (owner-readable only):\n"
        f'  curl -H "Authorization: Bearer $(cat {path})" ...',
        file=sys.stderr,
    )
    return attrs.evolve(settings, api_tokens=(token,))


if __name__ == "__main__":
    sys.exit(main())
