"""The `serve` subcommand: migrate if needed, then serve the API under gunicorn."""

from __future__ import annotations

import logging
import sys

import attrs

from adapters.sql import migrate as migrations
from entrypoints.bootstrap import schema_engine
from entrypoints.cli.addresses import bind_problem
from entrypoints.cli.api_token import local_token
from entrypoints.cli.arguments import add_command, positive_int
from entrypoints.cli.database import prepare_folder, shown
from entrypoints.config import Settings
from entrypoints.http.server import DEFAULT_THREADS, DEFAULT_WORKERS

LOG = logging.getLogger("export_responses")


def add_to(commands) -> None:
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


def run_serve(args, settings: Settings) -> int:
    from entrypoints.http.server import serve  # noqa: PLC0415 - gunicorn's arbiter only when serving

    problem = bind_problem(args.bind)
    if problem:  # before migrating: gunicorn would retry for five seconds, then fail
        print(f"export-responses serve: {problem}; stop what holds it, or choose another with --bind", file=sys.stderr)
        return 1
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
