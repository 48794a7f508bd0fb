"""`export-responses status`: the summary, following until all is final, and refusals."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.memory import InMemoryStore
from adapters.memory.export_views import InMemoryExportReader
from adapters.sql import tables
from application.export_status import ExportReader, zero_counts
from domain.exports import Export, ExportState
from entrypoints.cli import status as status_command
from entrypoints.cli.status import progress_bar, show_status
from entrypoints.config import Settings
from tests.builders import add_external_system

T0 = datetime(2026, 1, 1, tzinfo=UTC)
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
        raise AssertionError("status only counts")

    def find(self, filters, page, per_page):
        raise AssertionError("status only counts")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(reader, command=None, out=None, **options):
    out, err, sleeps = out if out is not None else io.StringIO(), io.StringIO(), []
    code = show_status(reader, command, out=out, err=err, sleep=sleeps.append, **options)
    return code, out.getvalue(), err.getvalue(), sleeps


def export(export_id: int, state: ExportState, command=COMMAND) -> Export:
    return Export("Response", export_id, 43, state, 0, None, command, T0, id=export_id)


def test_the_summary_counts_every_state_and_the_total():
    store = InMemoryStore()
    states = [ExportState.QUEUED] * 3 + [ExportState.COMPLETE] * 2 + [ExportState.FAILED]
    store.exports.update({i: export(i, state) for i, state in enumerate(states, start=1)})
    store.exports[7] = export(7, ExportState.ERRORING, command=OTHER)
    code, out, err, sleeps = run(InMemoryExportReader(store))
    assert (code, err, sleeps) == (0, "", [])
    assert out.splitlines() == [
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
    assert of_one.splitlines()[-1] == "  total             6"


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
        "[#########-----------] 9/20 final",
        "[####################] 20/20 final",
    ]
    assert lines[4] == f"Exports of command {COMMAND}:" and lines[-1] == "  total            20"
    assert "  complete         18" in lines and "  failed            2" in lines
    assert sleeps == [0.5, 0.5, 0.5]
    assert reader.calls == [COMMAND] * 4


def test_follow_redraws_one_line_on_a_terminal():
    code, out, _, sleeps = run(ScriptedReader({"queued": 2}, {"complete": 1, "failed": 1}), follow=True, out=Terminal())
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
    assert out[0] == "[####################] 2/2 final" and out[-1] == "  total             2"
    assert status_command.run_status(parser().parse_args(["status", "--command", OTHER]), settings) == 1
    assert f"command {OTHER} has no exports" in capsys.readouterr().err
