"""The `load FILE` and `seed` subcommands: development and migration data, all or nothing."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from adapters.sql import migrate as migrations
from adapters.sql.database import DriverError, shown
from application.loading import Dataset, Refused, UpsertBy, Written, load_data
from domain.numbers import parse_whole
from entrypoints.bootstrap import bootstrap
from entrypoints.cli.arguments import add_command, argument
from entrypoints.cli.database import prepare_folder, unusable
from entrypoints.cli.demo_data import MAX_DEMO_RESPONSES, ccd_external_systems, demo_responses
from entrypoints.cli.load_file import BadLoadFile, label, parse_load_file, read_load_file
from entrypoints.config import Settings

STANDARD_INPUT = Path("-")


def add_to(commands) -> None:
    """Add `load` and `seed` to the `export-responses` subcommands."""
    load_command = add_command(
        commands, "load", "upsert external systems and responses from a JSON file, by id, all or nothing"
    )
    load_command.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help='{"external_systems": [...], "responses": [...]}; - reads standard input',
    )
    load_command.set_defaults(run=run_load)

    seed = add_command(commands, "seed", "upsert the development CCD systems and, optionally, demo responses")
    seed.add_argument(
        "--demo-responses",
        type=argument(functools.partial(parse_whole, zero=True, most=MAX_DEMO_RESPONSES)),
        default=0,
        metavar="N",
        help=f"also upsert N demo ET3 responses, by reference (0 to {MAX_DEMO_RESPONSES}, default %(default)s)",
    )
    seed.set_defaults(run=run_seed)


def run_load(args, settings: Settings) -> int:
    source = "standard input" if args.file == STANDARD_INPUT else str(args.file)
    try:
        dataset = (
            parse_load_file(sys.stdin.buffer.read(), source)
            if source == "standard input"
            else (read_load_file(args.file))
        )
    except BadLoadFile as bad:
        return _refuse(f"{source} was not loaded", bad.problems)
    outcome = _write(settings, dataset, "id")
    if isinstance(outcome, Written):
        print(f"loaded {_summary(outcome)} from {source}")
        return 0
    return _refuse(f"{source} was not loaded", outcome)


def run_seed(args, settings: Settings) -> int:
    dataset = Dataset(ccd_external_systems(), demo_responses(args.demo_responses))
    outcome = _write(settings, dataset, "reference")
    if isinstance(outcome, Written):
        print(f"seeded {_summary(outcome)}")
        return 0
    return _refuse("the seed was not written", outcome)


def _write(settings: Settings, dataset: Dataset, upsert_by: UpsertBy) -> Written | list[str]:
    prepare_folder(settings.database_url)
    services = bootstrap(settings)
    assert services.engine is not None and services.loader is not None, "bootstrap without a store"
    try:
        if not migrations.is_current(services.engine):
            migrations.upgrade(services.engine, adopt=False)
            print(f"migrated the schema on {shown(settings.database_url)}")
        outcome = load_data(dataset, services.loader, services.clock, upsert_by)
    except DriverError as error:
        # What the checks cannot foresee (a concurrent writer, an unreachable server) is
        # still reported in one line: the transaction has been rolled back.
        return [str(unusable(error, settings.database_url))]
    finally:
        services.close()
    if isinstance(outcome, Refused):
        return [_describe(problem, dataset) for problem in outcome.problems]
    return outcome


def _describe(problem, dataset: Dataset) -> str:
    record = getattr(dataset, problem.collection)[problem.index]
    return f"{label(problem.collection, problem.index, record.id)}: {problem.message}"


def _summary(written: Written) -> str:
    return (
        f"{_count(written.external_systems, 'external system')} ({written.new_external_systems} new), "
        f"{_count(written.configurations, 'configuration')} and "
        f"{_count(written.responses, 'response')} ({written.new_responses} new)"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _refuse(headline: str, problems) -> int:
    lines = [
        f"export-responses: {headline}, nothing was written ({_count(len(problems), 'problem')}):",
        *[f"  {problem}" for problem in problems],
    ]
    print("\n".join(lines), file=sys.stderr)
    return 1
