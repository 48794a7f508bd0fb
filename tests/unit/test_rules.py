"""Domain rules of ExportResponses: pure, no I/O."""

from domain.commands import ExportResponses
from domain.external_systems import ExternalSystem
from domain.rules import check_export_responses, responses_to_queue

UUID = "bb86cdc9-9900-4cec-82a3-1355649c00d7"
EXPORTING = ExternalSystem(id=43, name="CCD Manchester", reference="ccd_manchester", export_responses=True)


def command(system_id=43, ids=(20,)):
    return ExportResponses(UUID, system_id, ids)


def test_a_known_system_and_known_responses_break_no_rule():
    assert check_export_responses(command(ids=(20, 21)), EXPORTING, {20, 21}) == []


def test_one_error_per_distinct_missing_response_in_the_order_first_sent():
    found = check_export_responses(command(ids=(20, -1, -2, -1)), EXPORTING, {20})
    assert [(e.code, e.detail, e.source) for e in found] == [
        ("response_not_found", "A response with an id of -1 was not found", "/response_ids"),
        ("response_not_found", "A response with an id of -2 was not found", "/response_ids"),
    ]
    assert all(e.status == 422 and e.title == e.detail and e.uuid == UUID for e in found)


def test_both_rules_run_and_the_system_error_comes_first():
    found = check_export_responses(command(system_id=-1, ids=(19, 7)), None, {19})
    assert [e.code for e in found] == ["external_system_not_found", "response_not_found"]
    assert found[0].detail == "The external system with an id of -1 was not found"
    assert found[0].source == "/external_system_id"


def test_a_disabled_system_or_one_not_exporting_responses_is_refused():
    for system in (
        ExternalSystem(id=43, name="x", reference="x", enabled=False, export_responses=True),
        ExternalSystem(id=43, name="x", reference="x", enabled=True, export_responses=False),
    ):
        (error,) = check_export_responses(command(), system, {20})
        assert error.code == "external_system_not_exporting_responses"
        assert error.source == "/external_system_id"
        assert "43" in error.detail


def test_duplicates_and_pending_responses_are_not_queued_again():
    assert responses_to_queue((3, 1, 3, 2, 1), pending_response_ids={2}) == [3, 1]


def test_the_fingerprint_ignores_nothing_the_command_asks_for():
    base = command(ids=(1, 2))
    assert base.fingerprint() == command(ids=(1, 2)).fingerprint()
    assert base.fingerprint() != command(ids=(2, 1)).fingerprint()
    assert base.fingerprint() != command(system_id=44, ids=(1, 2)).fingerprint()
