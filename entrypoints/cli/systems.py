"""`export-responses systems`: list external systems, pause and resume them (actor "cli")."""

from __future__ import annotations

import sys
from typing import TextIO

from application.operations import OperationsDeps, Refused, pause_system, resume_system
from application.system_status import COUNTED_STATES, SystemReader, SystemView, ThrottleView
from domain.operations import CLI_ACTOR
from entrypoints.cli.arguments import add_command
from entrypoints.cli.operating import REFUSED_STATUS, database_services, print_json, report_refused, table
from entrypoints.config import Settings
from entrypoints.converter import CONVERTER, timestamp


def add_to(commands) -> None:
    """Add `systems` and its subcommands to the `export-responses` subcommands."""
    systems = add_command(
        commands, "systems", "list external systems with their pause, circuit and throttle; pause, resume"
    )
    actions = systems.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="every external system: paused or not, its circuit breaker, its throttle, its exports by state",
        description="every external system: paused or not, its circuit breaker, its throttle, its exports by state",
    )
    listing.add_argument("--json", action="store_true", help="JSON, as GET /api/v2/external_systems writes it")
    listing.set_defaults(run=_run(list_systems))
    for name, help in (
        ("pause", "pause a system: its exports are still queued, but not attempted"),
        ("resume", "resume a system: its queued and erroring exports are due at once"),
    ):
        action = actions.add_parser(name, help=help, description=help)
        action.add_argument("system_id", type=int, metavar="ID")
        action.set_defaults(run=_run(pause_command if name == "pause" else resume_command))


def _run(action):
    def run(args, settings: Settings) -> int:
        with database_services(settings) as services:
            return action(args, services.system_reader, services.operations)

    return run


def list_systems(args, reader: SystemReader, operations=None, out: TextIO | None = None) -> int:
    systems = reader.systems()
    if args.json:
        print_json({"external_systems": [CONVERTER.unstructure(system) for system in systems]}, out)
        return 0
    headings = ["ID", "NAME", "PAUSED", "CIRCUIT", "THROTTLE", *[state.value.upper() for state in COUNTED_STATES]]
    rows = [_row(system) for system in systems]
    print(table(headings, rows), file=out or sys.stdout)
    return 0


def _row(system: SystemView) -> list[object]:
    paused = f"since {timestamp(system.paused_at)} by {system.paused_by}" if system.paused else "no"
    circuit = system.circuit.state
    if system.circuit.consecutive_failures:
        circuit += f" ({system.circuit.consecutive_failures} failures)"
    return [
        system.id,
        system.name,
        paused,
        circuit,
        _throttle(system.throttle),
        *[system.exports[state.value] for state in COUNTED_STATES],
    ]


def _throttle(throttle: ThrottleView) -> str:
    if throttle.calls_per_second is None:
        return "no"
    # When the pace was set is in --json (rate_limited_at): the table keeps to what holds calls back.
    pace = f"{throttle.calls_per_second:g}/s"
    return pace if throttle.paused_until is None else f"{pace}, paused until {timestamp(throttle.paused_until)}"


def pause_command(args, reader, operations: OperationsDeps, out: TextIO | None = None) -> int:
    return _act(pause_system, "paused: its exports are queued, not attempted", args, operations, out)


def resume_command(args, reader, operations: OperationsDeps, out: TextIO | None = None) -> int:
    return _act(resume_system, "resumed: its queued and erroring exports are due now", args, operations, out)


def _act(action, said: str, args, operations: OperationsDeps, out: TextIO | None) -> int:
    result = action(operations, args.system_id, CLI_ACTOR)
    if isinstance(result, Refused):
        report_refused(result)
        return REFUSED_STATUS
    print(f"external system {args.system_id} {said}", file=out or sys.stdout)
    return 0
