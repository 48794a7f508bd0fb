"""`export-responses status`: the summary, following until all is final, and refusals."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.memory import InMemoryStore
from adapters.memory.export_views import InMemoryExportReader
from adapters.memory.store import Work
from adapters.memory.system_views import InMemorySystemReader
from adapters.sql import tables
from application.export_status import ExportPage, ExportReader, zero_counts
from application.operations_ports import SystemControl
from domain.exports import ERRORING_MESSAGE, FAILED_MESSAGE, Export, ExportState
from domain.external_systems import ExternalSystem
from entrypoints.cli import status as status_command
from entrypoints.cli import terminal, troubles
from entrypoints.cli.status import progress_bar, show_status
from entrypoints.config import Settings
from tests.builders import add_external_system

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
COMMAND = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
OTHER = "bb86cdc9-9900-4cec-82a3-1355649c00d7"


class ScriptedReader(ExportReader):
    """Answers count_by_state from a script, one step per call, the last one for ever."""

    def __init__(self, *steps: dict[str, int]):
        self.steps = [{**zero_counts(), **step} for step in steps]
        self.calls: list[str | None] = []

    def count_by_state(self, command_uuid=None):
        self.calls.append(command_uuid)
        return self.steps[min(len(self.calls), len(self.steps)) - 1]

    def get(self, export_id):
        raise AssertionError("status never reads one export")

    def find(self, filters, page, per_page):
        # Asked only for the states the counts have: this script has no exports to list.
        assert self.steps[min(len(self.calls), len(self.steps)) - 1][filters.state.value] > 0
        return ExportPage((), page, per_page, 0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(reader, command=None, out=None, **options):
    out, err, sleeps = out if out is not None else io.StringIO(), io.StringIO(), []
    code = show_status(reader, command, out=out, err=err, sleep=sleeps.append, clock=lambda: NOW, **options)
    return code, out.getvalue(), err.getvalue(), sleeps


def export(export_id: int, state: ExportState, command=COMMAND, message=None, error=None) -> Export:
    data = {} if error is None else {"error": {"message": error}}
    return Export("Response", export_id, 43, state, 0, message, command, T0, external_data=data, id=export_id)


def test_the_summary_counts_every_state_and_the_total():
    store = InMemoryStore()
    states = [ExportState.QUEUED] * 3 + [ExportState.COMPLETE] * 2 + [ExportState.FAILED]
    store.exports.update({i: export(i, state) for i, state in enumerate(states, start=1)})
    store.exports[7] = export(7, ExportState.ERRORING, command=OTHER)
    code, out, err, sleeps = run(InMemoryExportReader(store))
    assert (code, err, sleeps) == (0, "", [])
    assert out.splitlines()[:8] == [
        "All exports:",
        "  created           0",
        "  queued            3",
        "  in_progress       0",
        "  erroring          1",
        "  complete          2",
        "  failed            1",
        "  total             7",
    ]
    _, of_one, _, _ = run(InMemoryExportReader(store), COMMAND)
    assert of_one.splitlines()[0] == f"Exports of command {COMMAND}:"
    assert of_one.splitlines()[7] == "  total             6"
    assert "Erroring exports" not in of_one  # the erroring one is the other command's


def test_follow_prints_a_line_per_refresh_until_all_are_final_off_a_terminal():
    reader = ScriptedReader(
        {"queued": 20},
        {"queued": 11, "in_progress": 2, "complete": 7},
        {"complete": 9, "erroring": 11},
        {"complete": 18, "failed": 2},
        {"queued": 5},  # never reached: following stops at the first all-final count
    )
    code, out, _, sleeps = run(reader, COMMAND, follow=True, interval=0.5)
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        "[--------------------] 0/20 final",
        "[#######-------------] 7/20 final",
        "[#########-----------] 9/20 final; 11 erroring",
        "[####################] 20/20 final; 2 failed",
    ]
    assert lines[4] == f"Exports of command {COMMAND}:" and lines[11] == "  total            20"
    assert "  complete         18" in lines and "  failed            2" in lines
    assert sleeps == [0.5, 0.5, 0.5]
    assert reader.calls == [COMMAND] * 4


def test_follow_redraws_one_line_on_a_terminal():
    code, out, _, sleeps = run(ScriptedReader({"queued": 2}, {"complete": 2}), follow=True, out=Terminal())
    assert code == 0 and len(sleeps) == 1
    first_line = out.split("\n")[0]
    assert first_line == "\r[--------------------] 0/2 final\r[####################] 2/2 final"
    assert out.split("\n")[1] == "All exports:"


def test_follow_ends_at_once_when_everything_is_final_already():
    code, out, _, sleeps = run(ScriptedReader({"complete": 3}), follow=True)
    assert (code, sleeps) == (0, [])
    assert out.splitlines()[0] == "[####################] 3/3 final"


def test_a_command_without_exports_is_exit_1_with_a_message():
    reader = ScriptedReader({})
    code, out, err, sleeps = run(reader, OTHER, follow=True)
    assert (code, out, sleeps) == (1, "", [])
    assert err == f"export-responses: command {OTHER} has no exports\n"


def test_the_bar_fills_only_when_all_are_final():
    assert progress_bar({"complete": 19, "queued": 1}) == "[###################-] 19/20 final"
    assert progress_bar({"complete": 1, "queued": 199}) == "[--------------------] 1/200 final"
    assert progress_bar({}) == "[--------------------] 0/0 final"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="export-responses")
    status_command.add_to(parser.add_subparsers(required=True))
    return parser


def test_the_arguments_are_checked_and_the_uuid_normalised(capsys):
    args = parser().parse_args(["status", "--command", COMMAND.upper(), "--follow", "--interval", "0.25"])
    assert (args.command, args.follow, args.interval, args.run) == (COMMAND, True, 0.25, status_command.run_status)
    defaults = parser().parse_args(["status"])
    assert (defaults.command, defaults.follow, defaults.interval) == (None, False, 2.0)
    for bad in (["--command", "not-a-uuid"], ["--interval", "0"], ["--interval", "soon"], ["--interval", "nan"]):
        with pytest.raises(SystemExit) as exit_:
            parser().parse_args(["status", *bad])
        assert exit_.value.code == 2
    assert "--command: must be a UUID" in capsys.readouterr().err


def test_run_status_reads_the_configured_database(sqlite_url, capsys):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        connection.execute(
            sa.insert(tables.exports),
            [
                {
                    "resource_type": "Response",
                    "resource_id": rid,
                    "external_system_id": 43,
                    "state": state,
                    "external_data": {},
                    "command_uuid": COMMAND,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for rid, state in [(1, "complete"), (2, "failed")]
            ],
        )
    engine.dispose()
    settings = Settings(database_url=sqlite_url, data_dir=Path("var"))
    assert status_command.run_status(parser().parse_args(["status", "--follow"]), settings) == 0
    out = capsys.readouterr().out.splitlines()
    news = "export 2 (response 2 to system 43): failed after 0 attempts: no error recorded"
    assert out[:2] == [news, "[####################] 2/2 final; 1 failed"] and out[9] == "  total             2"
    assert out[10:] == ["Failed exports (1):", f"  {news}"]
    assert status_command.run_status(parser().parse_args(["status", "--command", OTHER]), settings) == 1
    assert f"command {OTHER} has no exports" in capsys.readouterr().err


# ---- what went wrong ------------------------------------------------------------------


def add(store, export_id, state, attempts=1, next_attempt_at=None, **details):
    store.exports[export_id] = export(export_id, state, **details)
    store.work[export_id] = Work(attempts=attempts, next_attempt_at=next_attempt_at)


def test_erroring_and_failed_exports_are_listed_with_their_next_attempt_and_error():
    store = InMemoryStore()
    add(store, 1, ExportState.COMPLETE)
    add(
        store,
        2,
        ExportState.ERRORING,
        2,
        NOW + timedelta(minutes=3),
        message=ERRORING_MESSAGE,
        error="CCD answered 503",
    )
    add(store, 3, ExportState.ERRORING, 1, None, message=ERRORING_MESSAGE, error="timed out")
    add(store, 4, ExportState.FAILED, 3, message=FAILED_MESSAGE, error="the external system has no case_type_id")
    # A cancel says so, whatever the attempt before it said.
    add(store, 5, ExportState.FAILED, 1, message="Cancelled by an operator", error="CCD answered 503")
    code, out, _, _ = run(InMemoryExportReader(store))
    assert code == 0
    assert out.splitlines()[8:] == [
        "Erroring exports (2):",
        "  export 3 (response 3 to system 43): attempt 1 failed, no attempt scheduled: timed out",
        "  export 2 (response 2 to system 43): attempt 2 failed, next attempt 2026-01-01 01:03:00 UTC (in 3 min): "
        "CCD answered 503",
        "Failed exports (2):",
        "  export 5 (response 5 to system 43): failed after 1 attempt: Cancelled by an operator",
        "  export 4 (response 4 to system 43): failed after 3 attempts: the external system has no case_type_id",
    ]


def test_the_listing_is_bounded_and_says_how_many_more():
    store = InMemoryStore()
    for export_id in range(1, 9):
        add(store, export_id, ExportState.ERRORING, 1, NOW - timedelta(seconds=90), error=f"error {export_id}")
    _, out, _, _ = run(InMemoryExportReader(store))
    listed = out.splitlines()[8:]
    assert listed[0] == f"Erroring exports (8, the newest {troubles.SHOWN}):"
    assert [line.split(":")[0] for line in listed[1:-1]] == [
        f"  export {n} (response {n} to system 43)" for n in range(8, 8 - troubles.SHOWN, -1)
    ]
    assert "next attempt 2026-01-01 00:58:30 UTC (2 min ago)" in listed[1]
    assert listed[-1] == f"  and {8 - troubles.SHOWN} more"


def test_an_error_message_cannot_drive_the_terminal():
    hostile = "\x1b[2J\x1b]0;owned\x07line one\r\nline two" + "x" * 400
    shown = terminal.printable(hostile)
    assert shown.startswith("\\x1b[2J\\x1b]0;owned\\x07line one\\r\\nline two")
    assert all(char.isprintable() for char in shown)
    assert len(shown) == terminal.MAX_ERROR_CHARS and shown.endswith("…")
    assert terminal.printable("CCD said: é ok") == "CCD said: é ok"


def test_follow_tells_each_export_once_for_each_attempt_that_failed_and_why():
    store = InMemoryStore()
    add(store, 1, ExportState.QUEUED, 0)
    add(store, 2, ExportState.COMPLETE)
    retry_at = NOW + timedelta(seconds=30)
    story = iter(
        [
            lambda: add(
                store, 1, ExportState.ERRORING, 1, retry_at, message=ERRORING_MESSAGE, error="CCD answered 502"
            ),
            lambda: None,  # nothing moved: nothing told
            lambda: add(store, 1, ExportState.ERRORING, 2, retry_at, message=ERRORING_MESSAGE, error="timed out"),
            lambda: add(store, 1, ExportState.FAILED, 3, message=FAILED_MESSAGE, error="timed out"),
        ]
    )
    out, sleeps = io.StringIO(), []

    def sleep(seconds):
        sleeps.append(seconds)
        next(story)()

    code = show_status(InMemoryExportReader(store), None, follow=True, out=out, sleep=sleep, clock=lambda: NOW)
    assert code == 0 and len(sleeps) == 4
    assert out.getvalue().splitlines()[:9] == [
        "[##########----------] 1/2 final",
        "export 1 (response 1 to system 43): attempt 1 failed, next attempt 2026-01-01 01:00:30 UTC (in 30 s): "
        "CCD answered 502",
        "[##########----------] 1/2 final; 1 erroring",
        "[##########----------] 1/2 final; 1 erroring",
        "export 1 (response 1 to system 43): attempt 2 failed, next attempt 2026-01-01 01:00:30 UTC (in 30 s): "
        "timed out",
        "[##########----------] 1/2 final; 1 erroring",
        "export 1 (response 1 to system 43): failed after 3 attempts: timed out",
        "[####################] 2/2 final; 1 failed",
        "All exports:",
    ]


def test_on_a_terminal_news_clears_the_bar_before_it():
    store = InMemoryStore()
    add(store, 1, ExportState.FAILED, 1, message=FAILED_MESSAGE, error="CCD answered 400")
    out = Terminal()
    assert show_status(InMemoryExportReader(store), None, follow=True, out=out, clock=lambda: NOW) == 0
    news = "export 1 (response 1 to system 43): failed after 1 attempt: CCD answered 400"
    assert out.getvalue().startswith(f"\r\x1b[K{news}\n\r[####################] 1/1 final; 1 failed\n")


# ---- systems that hold exports back -----------------------------------------------------


def systems_store() -> InMemoryStore:
    store = InMemoryStore()
    for system_id in (43, 44, 45):
        store.external_systems[system_id] = ExternalSystem(system_id, f"CCD {system_id}", f"ccd_{system_id}")
    add(store, 1, ExportState.QUEUED, 0)
    add(store, 2, ExportState.ERRORING, 1, NOW, message=ERRORING_MESSAGE, error="CCD answered 503")
    return store


def test_status_says_which_systems_hold_their_exports_back_and_why():
    store = systems_store()
    store.system_controls[43] = SystemControl(updated_at=NOW, paused_at=NOW - timedelta(minutes=5), paused_by="alice")
    store.system_controls[44] = SystemControl(
        updated_at=NOW,
        circuit_state="open",
        consecutive_failures=5,
        next_probe_at=NOW + timedelta(seconds=40),
        last_failure="cannot connect\x1b[2J",
    )
    store.system_controls[45] = SystemControl(updated_at=NOW)  # resumed: running again
    _, out, _, _ = run(InMemoryExportReader(store), systems=InMemorySystemReader(store))
    assert out.splitlines()[-3:] == [
        "Held back:",
        "  system 43 (CCD 43) is paused since 2026-01-01 00:55:00 UTC (5 min ago) by alice; "
        "waiting: 1 queued, 0 in_progress, 1 erroring",
        "  system 44 (CCD 44) has its circuit open after 5 failures in a row, next probe 2026-01-01 01:00:40 UTC "
        "(in 40 s), last failure: cannot connect\\x1b[2J; waiting: 0 queued, 0 in_progress, 0 erroring",
    ]
    store.system_controls.clear()
    _, out, _, _ = run(InMemoryExportReader(store), systems=InMemorySystemReader(store))
    assert "Held back" not in out


def test_follow_tells_when_a_system_is_paused_and_when_it_runs_again():
    store = systems_store()
    steps = iter(
        [
            lambda: store.system_controls.update({43: SystemControl(updated_at=NOW, paused_at=NOW, paused_by="cli")}),
            lambda: store.system_controls.update({43: SystemControl(updated_at=NOW, circuit_state="half_open")}),
            lambda: store.system_controls.clear(),
            lambda: add(store, 1, ExportState.COMPLETE) or add(store, 2, ExportState.COMPLETE),
        ]
    )
    out = io.StringIO()

    def sleep(_seconds):
        next(steps)()

    assert (
        show_status(
            InMemoryExportReader(store),
            None,
            follow=True,
            out=out,
            sleep=sleep,
            clock=lambda: NOW,
            systems=InMemorySystemReader(store),
        )
        == 0
    )
    told = [line for line in out.getvalue().splitlines() if line.startswith("system ")]
    assert told == [
        "system 43 (CCD 43) is paused since 2026-01-01 01:00:00 UTC (now) by cli; "
        "waiting: 1 queued, 0 in_progress, 1 erroring",
        "system 43 (CCD 43) has its circuit half-open after 0 failures in a row; "
        "waiting: 1 queued, 0 in_progress, 1 erroring",
        "system 43 (CCD 43) is running: paused no more, circuit closed",
    ]
