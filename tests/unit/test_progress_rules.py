"""Progress reports, retry schedules and office assignment: pure domain rules."""

import attrs
import pytest

from domain.exports import ExportState, Progress, ProgressReport, apply_report, erroring, exported, failed, started
from domain.offices import office_code_for
from domain.retries import RetrySchedule, original_delay, parse_delays

IN_PROGRESS = Progress(ExportState.IN_PROGRESS, 0, "Response export started", {"keep": 1})


def test_a_report_sets_state_and_message_and_merges_external_data():
    after = apply_report(IN_PROGRESS, exported("u", {"case_id": 5}, case_found=True))
    assert after == Progress(ExportState.COMPLETE, 100, "Response exported", {"keep": 1, "case_id": 5})


def test_a_report_without_percent_keeps_the_current_one():
    after = apply_report(Progress(ExportState.IN_PROGRESS, 40, "x"), erroring("u", "boom"))
    assert (after.state, after.percent_complete) == (ExportState.ERRORING, 40)
    assert after.external_data == {"error": {"message": "boom"}}


@pytest.mark.parametrize("final", [ExportState.COMPLETE, ExportState.FAILED])
def test_final_states_are_never_changed(final):
    done = Progress(final, 100, "done")
    for report in (started("a"), erroring("b", "late"), failed("c"), exported("d", {}, True)):
        assert apply_report(done, report) is None


def test_the_original_delays_grow_from_seconds_to_days():
    fixed = [original_delay(n, draw=lambda low, high: 0) for n in range(8)]
    assert fixed[:3] == [15, 16, 79]
    assert fixed[7] == 7**6 + 15
    assert original_delay(2, draw=lambda low, high: high) == 2**6 + 15 + 29 * 3


def test_a_schedule_gives_one_delay_per_retry_then_gives_up():
    schedule = RetrySchedule((5.0, 30.0))
    assert [schedule.delay_after(n) for n in (1, 2, 3)] == [5.0, 30.0, None]
    assert schedule.max_attempts == 3
    assert RetrySchedule().retries == 8 and RetrySchedule().delay_after(9) is None


def test_delays_are_parsed_strictly():
    assert parse_delays("5, 30,600") == (5.0, 30.0, 600.0)
    assert parse_delays("none") == ()
    for bad in ("", "5,,6", "-1", "soon", "nan"):
        with pytest.raises(ValueError):
            parse_delays(bad)


OFFICES = {"Manchester": 24, "Glasgow": 41, "Leeds": 18, "Scotland (Reform)": 80}


@pytest.mark.parametrize(
    "managing_office, case_number, expected",
    [
        ("Leeds", "2412345/2024", 18),
        ("  leeds ", "2412345/2024", 18),
        (None, "2412345/2024", 24),
        ("Atlantis", "2412345/2024", 24),
        (None, "8012345/2024", 41),
        (None, "9912345/2024", None),
        (None, "ab", None),
    ],
)
def test_office_comes_from_the_case_or_the_case_number(managing_office, case_number, expected):
    assert office_code_for(managing_office, case_number, OFFICES) == expected


def test_reports_become_events_with_their_own_uuid_and_the_originals_data_layout():
    report = ProgressReport("u-1", ExportState.ERRORING, None, "Response erroring", {"error": {"message": "x"}})
    event = report.as_event()
    # The admin reads the error under data.external_data, as the original wrote it.
    assert (event.uuid, event.state, event.data) == (
        "u-1",
        ExportState.ERRORING,
        {"external_data": {"error": {"message": "x"}}},
    )
    with_attempt = attrs.evolve(report, attempt=3).as_event()
    assert with_attempt.data == {"external_data": {"error": {"message": "x"}}, "export_responses": {"attempt": 3}}
