"""The `migrate` subcommand: create or upgrade the schema, or adopt the original's database."""

from __future__ import annotations

from adapters.sql import migrate as migrations
from entrypoints.bootstrap import schema_engine
from entrypoints.cli.arguments import add_command
from entrypoints.cli.database import prepare_folder, shown
from entrypoints.config import Settings


def add_to(commands) -> None:
    migrate = add_command(
        commands,
        "migrate",
        "create or upgrade the schema, with the standard offices; "
        "adopts the original ET API's database by adding only this service's extras",
    )
    migrate.add_argument("--dry-run", action="store_true", help="print the SQL it would run and change nothing")
    migrate.set_defaults(run=run_migrate)


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
