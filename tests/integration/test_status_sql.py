"""`status` on SQLite and PostgreSQL: counts, and the erroring and failed exports with when
each is tried next and why, bounded, for all exports or one command's."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.export_views import SqlAlchemyExportReader
from adapters.sql.system_views import SqlAlchemySystemReader
from domain.exports import ERRORING_MESSAGE, FAILED_MESSAGE
from entrypoints.cli import troubles
from entrypoints.cli.status import show_status
from tests.builders import add_external_system
from tests.integration.test_export_views import COMMAND_A, COMMAND_B, T0, export_row, insert

NOW = T0 + timedelta(hours=1)


def erroring(export_id: int, attempts: int, error: str, **overrides) -> dict:
    return export_row(
        export_id,
        state="erroring",
        message=ERRORING_MESSAGE,
        external_data={"error": {"message": error}},
        attempts=attempts,
        next_attempt_at=NOW + timedelta(minutes=export_id),
        **overrides,
    )


def status(engine, command_uuid=None, follow=False, sleep=None) -> list[str]:
    out = io.StringIO()
    reader = SqlAlchemyExportReader(engine)
    waits = {"sleep": sleep} if sleep else {}  # a test that follows says what happens meanwhile
    code = show_status(reader, command_uuid, follow=follow, out=out, clock=lambda: NOW, **waits)
    assert code == 0
    return out.getvalue().splitlines()


def test_status_tells_which_exports_are_erroring_or_failed_when_next_and_why(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
    insert(
        engine,
        [
            export_row(1, state="complete", message="Response exported"),
            erroring(2, 2, "CCD answered 503 Service Unavailable"),
            # A Rails side's row keeps its own message; it is shown as it is.
            export_row(
                3,
                state="failed",
                message=FAILED_MESSAGE,
                command_uuid=None,
                attempts=3,
                next_attempt_at=None,
                external_data={"error": {"message": "the external system has no case_type_id"}},
            ),
            erroring(4, 1, "timed out \x1b[31mred", command_uuid=COMMAND_B),
        ],
    )
    lines = status(engine)
    assert lines[:8] == [
        "All exports:",
        "  created           0",
        "  queued            0",
        "  in_progress       0",
        "  erroring          2",
        "  complete          1",
        "  failed            1",
        "  total             4",
    ]
    assert lines[8:] == [
        "Erroring exports (2):",
        "  export 4 (response 104 to system 43): attempt 1 failed, next attempt 2026-01-01 13:04:00 UTC (in 4 min): "
        "timed out \\x1b[31mred",
        "  export 2 (response 102 to system 43): attempt 2 failed, next attempt 2026-01-01 13:02:00 UTC (in 2 min): "
        "CCD answered 503 Service Unavailable",
        "Failed exports (1):",
        "  export 3 (response 103 to system 43): failed after 3 attempts: the external system has no case_type_id",
    ]

    # Following one command's: only its exports; its progress line says what is wrong, and a
    # line tells each export that moved on. The first wait sees export 2 fail for good.
    def export_2_fails(_seconds):
        with engine.begin() as connection:
            connection.execute(
                sa.update(tables.exports).where(tables.exports.c.id == 2).values(state="failed", message=FAILED_MESSAGE)
            )

    of_a = status(engine, COMMAND_A, follow=True, sleep=export_2_fails)
    assert of_a[:4] == [
        "export 2 (response 102 to system 43): attempt 2 failed, next attempt 2026-01-01 13:02:00 UTC (in 2 min): "
        "CCD answered 503 Service Unavailable",
        "[##########----------] 1/2 final; 1 erroring",
        "export 2 (response 102 to system 43): failed after 2 attempts: CCD answered 503 Service Unavailable",
        "[####################] 2/2 final; 1 failed",
    ]
    assert of_a[4] == f"Exports of command {COMMAND_A}:"
    assert of_a[-2:] == ["Failed exports (1):", f"  {of_a[2]}"]


def test_many_erroring_exports_are_listed_up_to_the_bound(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
    insert(engine, [erroring(export_id, 1, f"error {export_id}") for export_id in range(1, 13)])
    lines = status(engine)[8:]
    assert lines[0] == f"Erroring exports (12, the newest {troubles.SHOWN}):"
    assert len(lines) == troubles.SHOWN + 2 and lines[-1] == f"  and {12 - troubles.SHOWN} more"
    assert lines[1].startswith("  export 12 (response 112 to system 43)") and lines[1].endswith(": error 12")


def test_status_says_which_systems_hold_their_exports_back(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44)
        paused = {"external_system_id": 43, "paused_at": NOW - timedelta(hours=2), "paused_by": "ops"}
        tripped = {"external_system_id": 44, "circuit_state": "open", "consecutive_failures": 4}
        for control in (paused, tripped):
            connection.execute(sa.insert(tables.system_controls), {**control, "updated_at": NOW})
    insert(engine, [erroring(1, 1, "CCD answered 502"), export_row(2, external_system_id=44)])
    out = io.StringIO()
    reader, systems = SqlAlchemyExportReader(engine), SqlAlchemySystemReader(engine)
    assert show_status(reader, None, out=out, clock=lambda: NOW, systems=systems) == 0
    assert out.getvalue().splitlines()[-3:] == [
        "Held back:",
        "  system 43 (CCD system 43) is paused since 2026-01-01 11:00:00 UTC (2 h ago) by ops; "
        "waiting: 0 queued, 0 in_progress, 1 erroring",
        "  system 44 (CCD system 44) has its circuit open after 4 failures in a row; "
        "waiting: 1 queued, 0 in_progress, 0 erroring",
    ]
