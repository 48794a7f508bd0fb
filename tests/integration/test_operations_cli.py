"""`export-responses exports` and `systems`, run in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.throttles import SqlAlchemySystemThrottles
from domain.exports import FAILED_MESSAGE
from domain.throttling import Throttle
from entrypoints.cli import main
from tests.builders import NOW, add_external_system, add_responses

COMMAND = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"


@pytest.fixture
def db(engine, database_url, monkeypatch):
    """System 43 ("CCD system 43") and 44; exports 1 failed (with its error), 2 queued, 3 in progress,
    4 complete (this service's), 5 failed (the ET API's)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44)
        add_responses(connection, range(1, 6))
        for export_id, state, command in [
            (1, "failed", COMMAND),
            (2, "queued", COMMAND),
            (3, "in_progress", COMMAND),
            (4, "complete", COMMAND),
            (5, "failed", None),
        ]:
            # A hostile CCD's error: it must reach the terminal escaped, never as control codes.
            error = {"error": {"message": "CCD answered 503\x1b[2J\r\nowned"}} if export_id == 1 else {}
            connection.execute(
                sa.insert(tables.exports),
                {
                    "id": export_id,
                    "resource_type": "Response",
                    "resource_id": export_id,
                    "external_system_id": 43,
                    "state": state,
                    "percent_complete": 0,
                    "message": FAILED_MESSAGE if export_id == 1 else f"{state} message",
                    "external_data": error,
                    "command_uuid": command,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )
    return engine


def state_of(engine, export_id: int) -> tuple:
    query = sa.select(tables.exports.c.state, tables.exports.c.cancel_requested_by).where(
        tables.exports.c.id == export_id
    )
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())


def run(capsys, *argv) -> tuple[int, str, str]:
    """The exit status, standard output, and the command's own lines on standard error
    (log lines, which the logging set-up may send there too, left out)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    said = "".join(line for line in captured.err.splitlines(keepends=True) if line.startswith("export-responses:"))
    return status, captured.out, said


@pytest.fixture(autouse=True)
def logging_of_this_test(monkeypatch):
    # An earlier test may have left the root logger writing to a stream pytest has closed since.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def test_exports_list_is_a_table_with_the_last_error_and_filters(db, capsys):
    status, out, err = run(capsys, "exports", "list", "--state", "failed", "--system", "43")
    lines = out.splitlines()
    assert (status, err) == (0, "")
    assert lines[0].split() == [
        "ID",
        "STATE",
        "SYSTEM",
        "RESPONSE",
        "ATTEMPTS",
        "NEXT",
        "ATTEMPT",
        "MESSAGE",
        "OR",
        "LAST",
        "ERROR",
    ]
    assert [line.split()[:2] for line in lines[1:3]] == [["5", "failed"], ["1", "failed"]]
    assert "CCD answered 503\\x1b[2J\\r\\nowned" in lines[2] and "\x1b" not in out
    assert lines[-1] == "2 of 2 exports"
    status, out, _ = run(capsys, "exports", "list", "--command", COMMAND, "--json")
    assert sorted(export["id"] for export in json.loads(out)["exports"]) == [1, 2, 3, 4]


def test_exports_show_escapes_what_ccd_wrote(db, capsys):
    status, out, _ = run(capsys, "exports", "show", "1")
    assert status == 0 and "\x1b" not in out and "\r" not in out
    assert "last error:      CCD answered 503\\x1b[2J\\r\\nowned" in out


def test_exports_show_has_the_fields_and_the_events(db, capsys):
    run(capsys, "exports", "retry", "1")
    status, out, _ = run(capsys, "exports", "show", "1")
    assert status == 0
    assert "state:           queued (0%)" in out
    assert "queued by:       command " + COMMAND in out
    assert out.splitlines()[-1].split()[1:] == ["queued", "Queued", "again", "by", "an", "operator"]
    status, _, err = run(capsys, "exports", "show", "99")
    assert (status, err) == (1, "export-responses: the export with an id of 99 was not found\n")


def test_exports_retry_reports_each_refused_id_and_exits_non_zero(db, capsys):
    status, out, err = run(capsys, "exports", "retry", "1", "2", "5")
    assert status == 1
    assert out == "export 1: queued again\n"
    assert err.splitlines() == [
        "export-responses: Export 2 is queued: only a failed or erroring export can be retried (export_not_retryable)",
        "export-responses: Export 5 belongs to the ET API (it was not queued by this service): its own exporter "
        "runs it, so this service shows it but leaves it alone (export_owned_by_et_api)",
    ]
    assert state_of(db, 1) == ("queued", None)


def test_exports_retry_failed_takes_every_failed_export_of_this_service(db, capsys):
    assert run(capsys, "exports", "retry", "--failed", "--system", "44") == (0, "0 failed exports queued again\n", "")
    assert run(capsys, "exports", "retry", "--failed") == (0, "1 failed exports queued again\n", "")
    assert (state_of(db, 1), state_of(db, 5)) == (("queued", None), ("failed", None))
    status, _, err = run(capsys, "exports", "retry", "1", "--failed")
    assert (status, err) == (2, "export-responses: give either export ids or --failed\n")


def test_exports_cancel_fails_a_queued_one_and_marks_one_in_progress(db, capsys):
    status, out, err = run(capsys, "exports", "cancel", "2", "3", "4")
    assert status == 1
    assert out.splitlines() == [
        "export 2: cancelled (failed)",
        "export 3: in progress; it fails when its current attempt ends",
    ]
    assert "(export_not_cancellable)" in err
    assert (state_of(db, 2), state_of(db, 3)) == (("failed", None), ("in_progress", "cli"))


def test_systems_list_shows_a_throttled_systems_pace_and_pause(db, engine, capsys):
    cut = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    with engine.begin() as connection:
        throttle = Throttle(until=cut + timedelta(seconds=2), rate=37.5, cut_at=cut, next_call_at=cut)
        SqlAlchemySystemThrottles(connection).save(44, throttle, cut)
    _, out, _ = run(capsys, "systems", "list")
    assert "37.5/s, paused until 2026-01-01T09:30:02.000000Z" in out.splitlines()[2]
    [_, glasgow] = json.loads(run(capsys, "systems", "list", "--json")[1])["external_systems"]
    assert glasgow["throttle"] == {
        "paused_until": "2026-01-01T09:30:02.000000Z",
        "calls_per_second": 37.5,
        "rate_limited_at": "2026-01-01T09:30:00.000000Z",
    }


def test_systems_list_pause_and_resume(db, capsys):
    assert run(capsys, "systems", "pause", "43")[0] == 0
    status, out, _ = run(capsys, "systems", "list")
    header, manchester, glasgow = out.splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "PAUSED",
        "CIRCUIT",
        "THROTTLE",
        "QUEUED",
        "IN_PROGRESS",
        "ERRORING",
        "COMPLETE",
        "FAILED",
    ]
    assert " by cli " in manchester and manchester.split()[-5:] == ["1", "1", "0", "1", "2"]
    assert glasgow.split()[4:7] == ["no", "closed", "no"]
    [system, _] = json.loads(run(capsys, "systems", "list", "--json")[1])["external_systems"]
    assert (system["paused"], system["paused_by"]) == (True, "cli")
    assert run(capsys, "systems", "resume", "43")[0] == 0
    assert json.loads(run(capsys, "systems", "list", "--json")[1])["external_systems"][0]["paused"] is False
    status, _, err = run(capsys, "systems", "pause", "9")
    assert (status, err) == (
        1,
        "export-responses: The external system with an id of 9 was not found (system_not_found)\n",
    )
