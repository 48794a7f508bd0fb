"""The ExportResponses use case on in-memory adapters."""

import itertools

import attrs
import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from application.ports import Received, WriteConflict
from domain.commands import ExportResponses
from domain.exports import ExportState
from domain.external_systems import ExternalSystem
from domain.results import CommandResult
from tests.concurrency import run_together

UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.external_systems[44] = ExternalSystem(44, "Off", "off", enabled=False, export_responses=True)
    store.response_ids.update({18, 19, 20})
    return store


def deps_for(store, max_response_ids=10_000):
    counter = itertools.count(1)
    return ExportResponsesDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        clock=FixedClock(),
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        max_response_ids=max_response_ids,
    )


def run(store, system_id=43, ids=(18,), uuid=UUID, **options) -> CommandResult:
    return export_responses(ExportResponses(uuid, system_id, ids), deps_for(store, **options))


def test_an_accepted_command_queues_one_export_per_response(store):
    result = run(store, ids=(18, 19))
    assert result == CommandResult.accept(UUID, "ExportResponses")
    exports = sorted(store.exports.values(), key=lambda e: e.resource_id)
    assert [(e.resource_id, e.state, e.percent_complete, e.command_uuid) for e in exports] == [
        (18, ExportState.QUEUED, 0, UUID),
        (19, ExportState.QUEUED, 0, UUID),
    ]
    assert [(ev.state, ev.percent_complete, ev.message) for ev in exports[0].events] == [
        (ExportState.QUEUED, 0, "Queued for export")
    ]
    assert store.commands[UUID].result == result


def test_a_rejected_command_writes_nothing_and_is_not_logged(store):
    result = run(store, system_id=-1, ids=(18, -5))
    assert result.codes == ["external_system_not_found", "response_not_found"]
    assert store.exports == {} and store.commands == {}


def test_a_disabled_system_is_refused(store):
    assert run(store, system_id=44).codes == ["external_system_not_exporting_responses"]
    assert store.exports == {}


def test_a_repeated_command_gets_the_first_result_and_writes_nothing(store):
    first = run(store, ids=(18, 19))
    snapshot = dict(store.exports)
    assert run(store, ids=(18, 19)) == first
    assert store.exports == snapshot


def test_a_uuid_reused_with_other_data_is_a_conflict_that_changes_nothing(store):
    run(store, ids=(18,))
    snapshot = dict(store.exports)
    result = run(store, ids=(19,))
    assert result.codes == ["uuid_conflict"]
    assert (result.errors[0].status, result.errors[0].source) == (409, "/uuid")
    assert store.exports == snapshot


def test_duplicate_ids_are_exported_once(store):
    run(store, ids=(18, 18, 19, 18))
    assert sorted(e.resource_id for e in store.exports.values()) == [18, 19]


def test_a_response_with_a_pending_export_gets_no_second_one_but_the_command_is_accepted(store):
    run(store, ids=(18,), uuid="11111111-1111-4111-8111-111111111111")
    result = run(store, ids=(18, 19), uuid="22222222-2222-4222-8222-222222222222")
    assert result.accepted
    assert sorted(e.resource_id for e in store.exports.values()) == [18, 19]


def test_a_response_whose_export_finished_can_be_exported_again(store):
    run(store, ids=(18,), uuid="11111111-1111-4111-8111-111111111111")
    (export_id,) = store.exports
    store.exports[export_id] = attrs.evolve(store.exports[export_id], state=ExportState.COMPLETE)
    assert run(store, ids=(18,), uuid="22222222-2222-4222-8222-222222222222").accepted
    assert len(store.exports) == 2


def test_too_many_ids_are_refused_before_any_lookup(store):
    result = run(store, ids=tuple(range(1, 12)), max_response_ids=10)
    assert result.codes == ["too_many_response_ids"]
    assert result.errors[0].source == "/response_ids"
    assert "at most 10" in result.errors[0].detail


def test_concurrent_sends_of_one_command_execute_once(store):
    results = run_together(8, lambda: run(store, ids=(18, 19, 20)))
    assert len(results) == 8 and all(r == results[0] for r in results) and results[0].accepted
    assert len(store.exports) == 3 and list(store.commands) == [UUID]


class LosingUnitOfWork(InMemoryUnitOfWork):
    """Commits as if a concurrent twin had logged the same command just before."""

    def commit(self):
        twin = self._working.commands[UUID]
        self.store.commands = {**self.store.commands, UUID: twin}
        raise WriteConflict("duplicate key")


def test_a_write_conflict_is_retried_and_answered_from_the_winner(store):
    writers = iter([LosingUnitOfWork(store)])  # a second write would raise StopIteration
    deps = ExportResponsesDeps(
        unit_of_work=lambda: next(writers),
        clock=FixedClock(),
        new_uuid=lambda: "e",
        reading=lambda: InMemoryUnitOfWork(store),
    )
    result = export_responses(ExportResponses(UUID, 43, (18,)), deps)
    assert result.accepted
    assert store.exports == {}  # the loser wrote nothing; the "winner" here logged only


def test_the_request_as_received_is_asked_for_only_when_the_command_is_logged(store):
    asked = []

    def received() -> Received:
        asked.append(1)
        return Received('{"uuid": "..."}', {"REQUEST_METHOD": "POST"})

    deps = deps_for(store)
    assert not export_responses(ExportResponses(UUID, 99, (18,)), deps, received).accepted  # unknown system
    assert asked == []
    assert export_responses(ExportResponses(UUID, 43, (18,)), deps, received).accepted
    assert export_responses(ExportResponses(UUID, 43, (18,)), deps, received).accepted  # the replay
    assert asked == [1]
    assert store.commands[UUID].received == Received('{"uuid": "..."}', {"REQUEST_METHOD": "POST"})
