"""The export worker against faults it was not written for, on SQLite and PostgreSQL.

Each fault is injected once into the real SQL unit of work or the gateway: a statement
the database refuses, a connection lost under a statement, an exception no port
promised. The worker logs it with the export ids, ends the claims it held (as a failed
attempt when that can still be recorded), backs off and goes on: every export ends
complete, and none is ever left in progress without a live claim.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

import pytest
import sqlalchemy as sa

from adapters.clock import SystemClock
from adapters.memory.ccd import InMemoryCcdGateway
from adapters.sql import tables
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from domain.retries import RetrySchedule
from entrypoints.worker import Worker
from tests.integration.conftest import CASE_TYPE
from tests.integration.test_worker_faults import (
    POLL_SECONDS,
    RunningWorker,
    eventually,
    queue,
    states,
)

CLAIM_SECONDS = 30.0  # far longer than the test: an export that waited for its claim to expire would time out


def lose_connection(connection: sa.Connection) -> None:
    """Close the driver's connection under SQLAlchemy, as a server that went away would."""
    connection.connection.dbapi_connection.close()


def refused_statement(connection: sa.Connection) -> None:
    connection.exec_driver_sql("SELECT no_such_column FROM exports")


class Faults:
    """Which queue call fails next, and how: each fault strikes once."""

    def __init__(self) -> None:
        self.pending: dict[str, object] = {}
        self.struck: list[str] = []
        self._lock = threading.Lock()

    def arm(self, method: str, fault) -> None:
        self.pending[method] = fault

    def strike(self, method: str, connection: sa.Connection) -> None:
        with self._lock:
            fault = self.pending.pop(method, None)
        if fault is not None:
            self.struck.append(method)
            fault(connection)


class FaultyQueue:
    def __init__(self, inner, faults: Faults, connection: sa.Connection):
        self.inner, self.faults, self.connection = inner, faults, connection

    def claim_due(self, *args, **kwargs):
        claims = self.inner.claim_due(*args, **kwargs)
        self.claimed = True
        self.faults.strike("claim_due", self.connection)
        return claims

    def end_attempts(self, *args, **kwargs):
        self.faults.strike("record", self.connection)
        return self.inner.end_attempts(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class FaultyUnitOfWork(SqlAlchemyUnitOfWork):
    def __init__(self, engine, faults: Faults):
        super().__init__(engine)
        self.faults = faults

    def __enter__(self):
        super().__enter__()
        self.queue = FaultyQueue(self.queue, self.faults, self.connection)
        return self

    def commit(self) -> None:
        super().commit()
        if getattr(self.queue, "claimed", False):
            # The claim is committed, but the worker hears only that the connection failed.
            self.faults.strike("claim_acknowledgement", self.connection)
            self.connection.exec_driver_sql("SELECT 1")


class CcdThatBreaksOnce(InMemoryCcdGateway):
    """A gateway with a bug: its first call raises what CcdGateway never promises."""

    def find_latest_case(self, case_type_id, case_number):
        if not self.calls:
            self.calls.append((case_type_id, case_number))
            raise KeyError("caseReference")
        return super().find_latest_case(case_type_id, case_number)


def unclaimed_in_progress(engine) -> list[int]:
    """Exports in progress that no live claim holds: they would wait for nothing."""
    exports = tables.exports
    with engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(exports.c.id).where(
                    exports.c.state == "in_progress",
                    sa.or_(
                        exports.c.claim_token.is_(None),
                        exports.c.claimed_until.is_(None),
                        exports.c.claimed_until < sa.func.now() if engine.dialect.name == "postgresql" else sa.false(),
                    ),
                )
            )
        )


FAULTS = {
    "a refused statement while claiming": ("claim_due", refused_statement),
    "a lost connection while claiming": ("claim_due", lose_connection),
    "a claim whose acknowledgement was lost": ("claim_acknowledgement", lose_connection),
    "a refused statement while recording": ("record", refused_statement),
    "a lost connection while recording": ("record", lose_connection),
}


@pytest.mark.parametrize("fault", [*FAULTS, "a bug in the gateway"])
def test_the_worker_survives_a_fault_and_leaves_no_export_waiting_for_an_expired_claim(engine, seeded, fault, caplog):
    faults = Faults()
    ccd = CcdThatBreaksOnce() if fault == "a bug in the gateway" else InMemoryCcdGateway()
    for rid in range(1, 6):
        ccd.add_case(CASE_TYPE, f"24{rid:05d}/2024", 1_600_000_000_000_000 + rid, "Manchester")
    if fault in FAULTS:
        faults.arm(*FAULTS[fault])
    deps = ExportWorkDeps(
        unit_of_work=lambda: FaultyUnitOfWork(engine, faults),
        ccd=ccd,
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
        retries=RetrySchedule((0.05, 0.05)),
        claim_seconds=CLAIM_SECONDS,
        pause=lambda seconds: None,
    )
    queue(engine, [1, 2, 3])
    with caplog.at_level(logging.INFO, logger="export_responses.worker"):
        running = RunningWorker(Worker(deps, concurrency=2, poll_seconds=POLL_SECONDS))
        try:
            eventually(lambda: states(engine) == ["complete"] * 3, "every export completed despite the fault")
            assert running.thread.is_alive()
        finally:
            outcomes = running.stop()
    assert unclaimed_in_progress(engine) == []
    assert fault == "a bug in the gateway" or faults.struck, "the fault was never injected"
    events = [json.loads(message) for message in caplog.messages if message.startswith("{")]
    crashes = [event for event in events if event["event"] == "attempt_crashed"]
    for crash in crashes:
        assert crash["export_ids"] and crash["error"], crash
    assert outcomes["crashed"] == len(crashes) <= 1
    if "while claiming" in fault:
        assert any(event["event"] in ("claim_failed", "database_unavailable") for event in events), caplog.text
    if fault == "a claim whose acknowledgement was lost":
        released = [event for event in events if event["event"] == "claims_released"]
        assert released and released[0]["released"] >= 1, caplog.text
    if fault == "a bug in the gateway":
        assert "KeyError: 'caseReference'" in crashes[0]["error"]
        with engine.connect() as connection:
            recorded = list(
                connection.scalars(
                    sa.select(tables.export_events.c.data).where(tables.export_events.c.state == "erroring")
                )
            )
        assert len(recorded) == 1 and "KeyError: 'caseReference'" in recorded[0]["external_data"]["error"]["message"], (
            recorded
        )
