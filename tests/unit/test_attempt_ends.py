"""The in-memory queue ends attempts as the SQL one does (tests/integration/test_attempt_ends_sql.py):
only at exports held under the end's claim token, all of them or none."""

from __future__ import annotations

import attrs
import pytest

from adapters.memory.queue import InMemoryExportQueue
from application.carry_out_exports import claim_due_exports
from application.ports import AttemptEnd, Holding
from domain import exports as progress
from domain.exports import ExportState
from tests.unit.worker_fakes import START, events, queue

FAILED = progress.Progress(ExportState.FAILED, 100, "Response export failed", {})
TAKEN_OVER = "0e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def test_an_end_whose_claim_another_worker_took_is_refused_and_writes_nothing(store, deps):
    queue(store)
    queue(store, response_id=19)
    kept, lost = claim_due_exports(deps, limit=2)
    store.work[lost.export_id] = attrs.evolve(store.work[lost.export_id], claim_token=TAKEN_OVER)
    queue_ = InMemoryExportQueue(store)
    assert queue_.holdings([lost.export_id, kept.export_id, 999]) == {
        kept.export_id: Holding(kept.claim_token),
        lost.export_id: Holding(TAKEN_OVER),
    }
    ends = [
        AttemptEnd(
            claim.export_id, claim.claim_token, (progress.failed("7c8b0b1e-55d1-4c1e-9c55-1d0f7e1b2a3c"),), FAILED
        )
        for claim in (kept, lost)
    ]
    with pytest.raises(RuntimeError, match="not held"):
        queue_.end_attempts(ends, START)
    assert [store.exports[claim.export_id].state for claim in (kept, lost)] == [ExportState.IN_PROGRESS] * 2
    assert store.work[kept.export_id].claim_token == kept.claim_token


def test_an_uncharged_end_gives_the_attempt_back_and_stores_every_report(store, deps):
    queue(store)
    (claim,) = claim_due_exports(deps, limit=1)
    erroring = progress.erroring("2f9a0c4e-8d1b-4f6a-9e3c-5b7d1a2c4e6f", "CCD answered 429")
    after = progress.apply_report(claim.progress, erroring)
    assert after is not None
    InMemoryExportQueue(store).end_attempts(
        [AttemptEnd(claim.export_id, claim.claim_token, (erroring,), after, START, charged=False)], START
    )
    work = store.work[claim.export_id]
    assert (work.attempts, work.claim_token, work.next_attempt_at) == (0, None, START)
    assert [state for state, _, _ in events(store, claim.export_id)] == ["queued", "in_progress", "erroring"]
