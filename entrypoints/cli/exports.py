"""`export-responses exports`: list, show, retry and cancel exports (as the API does, actor "cli")."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from application.export_status import MAX_PER_PAGE, ExportFilters, ExportReader, ExportView
from application.operations import OperationsDeps, Refused, cancel_export, retry_export, retry_exports
from application.operations_ports import RetryFilters
from domain.exports import ExportState
from domain.operations import CLI_ACTOR
from entrypoints.cli.arguments import add_command, command_uuid_argument, positive_int
from entrypoints.cli.operating import REFUSED_STATUS, database_services, print_json, report_refused, table
from entrypoints.cli.terminal import printable
from entrypoints.config import Settings
from entrypoints.converter import CONVERTER, timestamp

DEFAULT_LIMIT = 50
_STATES = ", ".join(state.value for state in ExportState)
USAGE_STATUS = 2  # as argparse exits on bad arguments


def add_to(commands) -> None:
    """Add `exports` and its subcommands to the `export-responses` subcommands."""
    exports = add_command(commands, "exports", "list, show, retry and cancel exports")
    actions = exports.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="exports, newest first", description="exports, newest first")
    listing.add_argument("--state", type=_state, metavar="STATE", help=f"only in this state: {_STATES}")
    listing.add_argument("--system", type=int, metavar="ID", help="only to this external system")
    listing.add_argument("--command", type=command_uuid_argument, metavar="UUID", help="only those this command queued")
    listing.add_argument(
        "--limit", type=_limit, default=DEFAULT_LIMIT, metavar="N", help="at most N (default %(default)s)"
    )
    listing.add_argument("--json", action="store_true", help="JSON, as GET /api/v2/exports writes it")
    listing.set_defaults(run=_run(list_exports))

    show = actions.add_parser("show", help="one export with its events", description="one export with its events")
    show.add_argument("export_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="JSON, as GET /api/v2/exports/{id} writes it")
    show.set_defaults(run=_run(show_export))

    retry = actions.add_parser(
        "retry",
        help="queue failed or erroring exports again, due now, with a fresh retry schedule",
        description="queue failed or erroring exports again, due now, with a fresh retry schedule",
    )
    retry.add_argument("export_ids", type=int, nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every failed export (of --system only, if given)")
    retry.add_argument("--system", type=int, metavar="ID", help="with --failed: only those to this external system")
    retry.set_defaults(run=_run(retry_command, check=_retry_problem))

    cancel = actions.add_parser(
        "cancel",
        help="cancel exports: queued or erroring ones fail now, one in progress when its attempt ends",
        description="cancel exports: queued or erroring ones fail now, one in progress when its attempt ends",
    )
    cancel.add_argument("export_ids", type=int, nargs="+", metavar="ID")
    cancel.set_defaults(run=_run(cancel_command))


def _state(text: str) -> ExportState:
    try:
        return ExportState(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be one of {_STATES}, not {text!r}") from None


def _limit(text: str) -> int:
    value = positive_int(text)
    if value > MAX_PER_PAGE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PER_PAGE}, not {value}")
    return value


def _retry_problem(args) -> str | None:
    if bool(args.export_ids) == args.failed:
        return "give either export ids or --failed"
    if args.system is not None and not args.failed:
        return "--system goes with --failed"
    return None


def _run(action, check=None):
    def run(args, settings: Settings) -> int:
        problem = check(args) if check else None
        if problem:
            print(f"export-responses: {problem}", file=sys.stderr)
            return USAGE_STATUS
        with database_services(settings) as services:
            return action(args, services.export_reader, services.operations)

    return run


def list_exports(args, reader: ExportReader, operations=None, out: TextIO | None = None) -> int:
    filters = ExportFilters(external_system_id=args.system, state=args.state, command_uuid=args.command)
    page = reader.find(filters, 1, args.limit)
    if args.json:
        print_json(CONVERTER.unstructure(page), out)
        return 0
    rows = [_row(export) for export in page.exports]
    headings = ["ID", "STATE", "SYSTEM", "RESPONSE", "ATTEMPTS", "NEXT ATTEMPT", "MESSAGE OR LAST ERROR"]
    print(table(headings, rows), file=out or sys.stdout)
    print(f"{len(page.exports)} of {page.total} exports", file=out or sys.stdout)
    return 0


def _row(export: ExportView) -> list[object]:
    shown = export.last_error if export.state in (ExportState.ERRORING, ExportState.FAILED) else None
    return [
        export.id,
        export.state.value,
        export.external_system_id,
        export.response_id,
        export.attempts,
        timestamp(export.next_attempt_at),
        shown or export.message,
    ]


def show_export(args, reader: ExportReader, operations=None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    export = reader.get(args.export_id)
    if export is None:
        print(f"export-responses: the export with an id of {args.export_id} was not found", file=sys.stderr)
        return REFUSED_STATUS
    if args.json:
        print_json(CONVERTER.unstructure(export), out)
        return 0
    owner = "this service" if export.command_uuid else "the ET API (shown, never changed here)"
    fields = [
        ("export", export.id),
        ("state", f"{export.state.value} ({export.percent_complete}%)"),
        ("message", export.message),
        ("last error", export.last_error),
        ("response", export.response_id),
        ("external system", export.external_system_id),
        ("queued by", f"command {export.command_uuid}" if export.command_uuid else owner),
        ("attempts", export.attempts),
        ("next attempt", timestamp(export.next_attempt_at)),
        ("created", timestamp(export.created_at)),
        ("updated", timestamp(export.updated_at)),
    ]
    for name, value in fields:
        print(f"{name + ':':<17}{'-' if value is None else printable(str(value))}", file=out)
    print("events:", file=out)
    rows = [[timestamp(event.created_at), event.state or "-", event.message] for event in export.events]
    print(table(["  AT", "STATE", "MESSAGE"], [["  " + str(row[0]), *row[1:]] for row in rows]), file=out)
    return 0


def retry_command(args, reader, operations: OperationsDeps, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.failed:
        filters = RetryFilters(external_system_id=args.system, state=ExportState.FAILED)
        outcome = retry_exports(operations, filters, CLI_ACTOR)
        if isinstance(outcome, Refused):
            report_refused(outcome)
            return REFUSED_STATUS
        print(f"{outcome.count} failed exports queued again", file=out)
        return 0
    refused = False
    for export_id in args.export_ids:
        result = retry_export(operations, export_id, CLI_ACTOR)
        if isinstance(result, Refused):
            report_refused(result)
            refused = True
        else:
            print(f"export {export_id}: queued again", file=out)
    return REFUSED_STATUS if refused else 0


def cancel_command(args, reader, operations: OperationsDeps, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    refused = False
    for export_id in args.export_ids:
        result = cancel_export(operations, export_id, CLI_ACTOR)
        if isinstance(result, Refused):
            report_refused(result)
            refused = True
        elif result.in_flight:
            print(f"export {export_id}: in progress; it fails when its current attempt ends", file=out)
        else:
            print(f"export {export_id}: cancelled (failed)", file=out)
    return REFUSED_STATUS if refused else 0
