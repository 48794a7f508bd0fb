"""The worker's use cases on the SQL queue, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.circuits import _START_PROBES
from adapters.sql.queue import _CLAIM_DUE, _DUE
from application.carry_out_exports import carry_out, claim_due_exports
from domain.exports import ExportState
from tests.builders import NOW, add_responses, counting_statements
from tests.concurrency import run_together
from tests.integration.worker_support import event_states, export_rows, queue


def test_a_queued_export_is_claimed_carried_out_and_completed(engine, deps, ccd):
    queue(deps, [1])
    ccd.add_case("ET_Test", "2400001/2024", 1600000000000001, "Manchester")
    (claim,) = claim_due_exports(deps, limit=5)
    assert (claim.response_id, claim.case_number, claim.case_type_id, claim.attempt) == (
        1,
        "2400001/2024",
        "ET_Test",
        1,
    )
    assert carry_out(claim, deps).state is ExportState.COMPLETE
    (row,) = export_rows(engine)
    assert (row.state, row.percent_complete, row.message, row.claim_token) == (
        "complete",
        100,
        "Response exported",
        None,
    )
    assert row.external_data == {
        "case_id": 1600000000000001,
        "case_reference": "2400001/2024",
        "case_type_id": "ET_Test",
        "office": "Manchester",
    }
    assert event_states(engine, row.id) == ["queued", "in_progress", "complete"]


def test_failures_are_scheduled_and_retried_when_due(engine, deps, ccd, clock):
    queue(deps, [1])
    ccd.fail_next("CCD data store answered 502 to the case search", "again")
    (claim,) = claim_due_exports(deps, limit=5)
    assert carry_out(claim, deps).state is ExportState.ERRORING
    (row,) = export_rows(engine)
    assert row.external_data == {"error": {"message": "CCD data store answered 502 to the case search"}}
    assert claim_due_exports(deps, limit=5) == []
    clock.at += timedelta(seconds=10)
    (retry,) = claim_due_exports(deps, limit=5)
    # The schedule is spent with two failures in a row: CCD may be going down, one attempt more.
    assert carry_out(retry, deps).state is ExportState.ERRORING
    (row,) = export_rows(engine)
    assert (row.state, row.attempts, row.next_attempt_at) == ("erroring", 2, clock.at + timedelta(seconds=10))
    clock.at += timedelta(seconds=10)
    queue(deps, [2])
    claims = {claim.response_id: claim for claim in claim_due_exports(deps, limit=5)}
    assert carry_out(claims[2], deps).state is ExportState.COMPLETE  # CCD answers another export
    ccd.fail_next("still")
    assert carry_out(claims[1], deps).state is ExportState.FAILED  # so the failure is the export's own
    row = next(row for row in export_rows(engine) if row.resource_id == 1)
    assert (row.state, row.attempts) == ("failed", 3)
    assert event_states(engine, row.id) == [
        "queued",
        *["in_progress", "erroring"] * 3,
        "failed",
    ]


def test_a_grace_attempt_that_fails_in_a_row_of_failures_is_given_back(engine, deps, ccd, clock):
    queue(deps, [1])
    ccd.fail_next("one", "two", "three")
    for _ in range(3):  # the schedule's two attempts and the grace
        (claim,) = claim_due_exports(deps, limit=5)
        assert carry_out(claim, deps).state is ExportState.ERRORING
        clock.at += timedelta(seconds=10)
    (row,) = export_rows(engine)
    assert (row.state, row.attempts, row.next_attempt_at) == ("erroring", 2, clock.at)  # uncharged, due again
    (claim,) = claim_due_exports(deps, limit=5)
    assert claim.attempt == 3 and carry_out(claim, deps).state is ExportState.COMPLETE


def test_an_expired_claim_is_taken_over_and_the_late_result_dropped(engine, deps, clock):
    queue(deps, [1])
    (abandoned,) = claim_due_exports(deps, limit=5)
    clock.at += timedelta(seconds=61)
    (reclaimed,) = claim_due_exports(deps, limit=5)
    assert carry_out(reclaimed, deps).state is ExportState.COMPLETE
    assert carry_out(abandoned, deps).state is None
    (row,) = export_rows(engine)
    assert event_states(engine, row.id).count("complete") == 1


def test_remote_office_systems_move_the_response_to_the_case_office(engine, deps, ccd):
    queue(deps, [2], system_id=60)
    ccd.add_case("ET_Test", "2400002/2024", 7, "Leeds")
    (claim,) = claim_due_exports(deps, limit=5)
    carry_out(claim, deps)
    with engine.connect() as connection:
        office_code = connection.execute(
            sa.select(tables.offices.c.code)
            .join(tables.responses, tables.responses.c.office_id == tables.offices.c.id)
            .where(tables.responses.c.id == 2)
        ).scalar_one()
    assert office_code == 18


def test_an_export_whose_response_was_deleted_fails_and_holds_up_no_other(engine, deps, ccd):
    """Nothing in the original's schema ties an export to its response. Such an export
    was claimed again and again, never handed over, and starved claims of one."""
    queue(deps, [1, 2])
    ccd.add_case("ET_Test", "2400002/2024", 7, "Leeds")
    with engine.begin() as connection:
        connection.execute(sa.delete(tables.responses).where(tables.responses.c.id == 1))
    (gone,) = claim_due_exports(deps, limit=1)
    assert (gone.response_id, gone.response_exists, gone.case_number) == (1, False, None)
    assert carry_out(gone, deps).state is ExportState.FAILED
    (claim,) = claim_due_exports(deps, limit=1)
    assert (claim.response_id, claim.response_exists) == (2, True)
    assert carry_out(claim, deps).state is ExportState.COMPLETE
    row = next(row for row in export_rows(engine) if row.resource_id == 1)
    assert (row.state, row.attempts, row.claim_token) == ("failed", 1, None)
    assert row.external_data == {"error": {"message": "Response 1 no longer exists: there is nothing to export"}}
    assert ccd.calls == [("ET_Test", "2400002/2024")]


def test_a_response_without_a_case_number_is_complete_with_no_case_and_ccd_is_not_asked(engine, deps, ccd):
    """Asked without a reference, CCD's search answers with the latest case of any
    reference, which the export would have recorded and moved the response to the office of."""
    queue(deps, [3], system_id=60)
    ccd.add_case("ET_Test", "2400002/2024", 7, "Leeds")
    with engine.begin() as connection:
        connection.execute(sa.update(tables.responses).where(tables.responses.c.id == 3).values(case_number=None))
    (claim,) = claim_due_exports(deps, limit=1)
    assert carry_out(claim, deps).state is ExportState.COMPLETE
    (row,) = export_rows(engine)
    assert row.message == "Response exported; no case was found in CCD"
    assert row.external_data == {"case_id": None, "case_reference": None, "case_type_id": "ET_Test", "office": None}
    assert ccd.calls == []
    with engine.connect() as connection:
        office_id = connection.scalar(sa.select(tables.responses.c.office_id).where(tables.responses.c.id == 3))
    assert office_id is None


def test_concurrent_claims_never_take_the_same_export(engine, deps):
    queue(deps, range(1, 41))

    def claim_all() -> list[int]:
        claimed = []
        while batch := claim_due_exports(deps, limit=3):
            claimed.extend(claim.export_id for claim in batch)
        return claimed

    claimed = [export_id for ids in run_together(4, claim_all) for export_id in ids]
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_a_batch_of_claims_is_started_in_the_same_statements_as_one(engine, deps, clock):
    queue(deps, range(1, 11))
    with counting_statements(engine) as one:
        (single,) = claim_due_exports(deps, limit=1)
    with counting_statements(engine) as batch:
        claims = claim_due_exports(deps, limit=8)
    assert len(one) == len(batch)
    # The probes, the paced systems, the claim, the progress and the events. On PostgreSQL
    # the due exports are found, claimed and read back in one statement; on SQLite, in
    # three, after its BEGIN IMMEDIATE.
    assert len(one) == {"postgresql": 5, "sqlite": 8}[engine.dialect.name], one
    assert len(claims) == 8
    assert {claim.progress.message for claim in (single, *claims)} == {"Response export started"}
    assert {claim.progress.state for claim in (single, *claims)} == {ExportState.IN_PROGRESS}
    started = [row for row in export_rows(engine) if row["state"] == "in_progress"]
    assert len(started) == 9 and all(row["message"] == "Response export started" for row in started)
    assert all(event_states(engine, row["id"]) == ["queued", "in_progress"] for row in started)


def test_a_claim_takes_no_more_than_its_limit_when_the_statistics_saw_one_export(engine, deps):
    """Statistics from a queue of one: PostgreSQL may then run a claim's LIMITed, SKIP
    LOCKED search again for each row the UPDATE scans (BUG #15715), and claim them all.
    (SQLite's claim is its three statements, which the same limit must hold for.)"""
    queue(deps, [1])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE exports")
    queue(deps, range(2, 12))
    claims = claim_due_exports(deps, limit=2)
    with engine.connect() as connection:
        claimed = connection.scalar(
            sa.select(sa.func.count()).select_from(tables.exports).where(tables.exports.c.claim_token.is_not(None))
        )
    assert (len(claims), claimed) == (2, 2)


def test_a_retried_export_is_claimed_with_the_progress_its_error_left(engine, deps, ccd, clock):
    queue(deps, [1])
    ccd.fail_next("CCD data store answered 502 to the case search")
    (claim,) = claim_due_exports(deps, limit=1)
    assert carry_out(claim, deps).state is ExportState.ERRORING
    clock.at += timedelta(seconds=10)
    (again,) = claim_due_exports(deps, limit=1)
    assert (again.attempt, again.progress.state) == (2, ExportState.IN_PROGRESS)
    assert again.progress.external_data == {"error": {"message": "CCD data store answered 502 to the case search"}}
    (row,) = export_rows(engine)
    assert (row.state, row.external_data) == ("in_progress", again.progress.external_data)


def test_claims_read_the_index_of_pending_exports_not_every_export(engine, deps):
    """Else a claim costs more with every finished export the table keeps."""
    compiled = _DUE.compile(dialect=engine.dialect)
    parameters = compiled.construct_params({"now": NOW.isoformat(), "paced_since": NOW.isoformat(), "limit": 8})
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            values = [parameters[name] for name in compiled.positiontup]
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(values))]
            # In the index's order (no sort); the held systems (paused, circuit not closed,
            # throttled) read once, as a list each export's system is looked up in.
            assert plan == [
                "SEARCH exports USING INDEX ix_exports_due (resource_type=?)",
                "LIST SUBQUERY 1",
                "SCAN export_responses_system_controls",
            ]
        else:
            # The tables are tiny: without these PostgreSQL would rightly scan them whole.
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}", parameters))
            assert "Index Scan using ix_exports_due on exports" in plan and "Sort" not in plan, plan
            assert "Seq Scan on exports" not in plan and "hashed SubPlan" in plan, plan


# PostgreSQL's planner only: SQLite's plans are the test above's.
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_claims_and_probes_keep_to_the_index_whatever_the_statistics_say(engine, deps, clock):
    """A batch just queued, statistics before and after ANALYZE, a control row or none:
    the plans PostgreSQL chose for the old statements read every due export (and sorted
    them), 3 to 5 ms a claim at 4,000 queued, more with every one."""
    with engine.begin() as connection:
        add_responses(connection, range(1_001, 2_001))
    queue(deps, range(1_001, 2_001))
    parameters = {"now": clock.at, "paced_since": clock.at, "hold_until": clock.at, "limit": 8}
    with engine.connect() as connection:
        # Fresh: the planner has no statistics of the batch, and there are no controls.
        probes = _plan(connection, _START_PROBES, parameters)
        assert "SubPlan" in probes and "Aggregate" not in probes and "Join" not in probes, probes
        connection.execute(sa.insert(tables.system_controls), {"external_system_id": 43, "updated_at": NOW})
        connection.commit()
        connection.exec_driver_sql("ANALYZE")
        due = _plan(connection, _DUE, parameters)
        assert "Index Scan using ix_exports_due on exports" in due and "Sort" not in due, due
        assert "Seq Scan on exports" not in due and "Join" not in due, due
        # The one-statement claim searches so too, once, before it updates what it found.
        claiming = {**parameters, "token": str(uuid.UUID(int=1)), "until": clock.at}
        claim = _plan(connection, _CLAIM_DUE, claiming)
        assert "CTE due" in claim and "Index Scan using ix_exports_due on exports" in claim, claim
        probes = _plan(connection, _START_PROBES, parameters)
        assert "SubPlan" in probes and "Aggregate" not in probes and "Join" not in probes, probes


def _plan(connection: sa.Connection, statement, parameters) -> str:
    compiled = statement.compile(dialect=connection.dialect)
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.construct_params(parameters))
    return "\n".join(row[0] for row in rows)
