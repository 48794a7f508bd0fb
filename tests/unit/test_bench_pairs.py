"""The benchmark's pairing and statistics (bench/pairs.py), and the bare driver's binding
of a captured command to another (bench/bare_driver.py): pure code, no servers."""

from __future__ import annotations

import datetime

import pytest
from attrs import frozen

from bench.bare_driver import Script, Step
from bench.measures import Throughput
from bench.pairs import Pair, Paired, Spread, run_pair
from bench.report import verdict, worker


@frozen
class Rate:
    per_second: float


def recording(order: list[str], name: str, rate: float):
    def measure() -> Rate:
        order.append(name)
        return Rate(rate)

    return measure


def test_a_pair_runs_the_scenario_first_then_second_in_turns():
    order: list[str] = []
    pairs = [run_pair(index, recording(order, "A", 50), recording(order, "B", 200)) for index in range(4)]

    assert order == ["A", "B", "B", "A", "A", "B", "B", "A"]
    # Whichever ran first, the scenario is the measured side and the ratio its share.
    assert [pair.ratio for pair in pairs] == [0.25] * 4


def test_the_spread_gives_median_quartiles_extremes_and_count():
    spread = Spread.of([0.5, 0.1, 0.4, 0.2, 0.3])

    assert (spread.median, spread.q1, spread.q3) == pytest.approx((0.3, 0.2, 0.4))
    assert (spread.low, spread.high, spread.count) == (0.1, 0.5, 5)
    assert spread.relative_iqr == pytest.approx(0.2 / 0.3)


def test_the_spread_of_an_even_number_of_values_interpolates():
    spread = Spread.of([1.0, 2.0, 3.0, 4.0])

    assert (spread.median, spread.q1, spread.q3) == pytest.approx((2.5, 1.75, 3.25))


def test_the_spread_of_one_value_is_that_value_and_of_none_an_error():
    assert Spread.of([0.7]) == Spread(0.7, 0.7, 0.7, 0.7, 0.7, 1)
    with pytest.raises(ValueError, match="no values"):
        Spread.of([])


def test_paired_runs_give_the_ratio_spread_the_rates_and_the_median_run():
    slow_spell = Pair(Rate(100), Rate(1000))  # both sides slow: the ratio holds
    fast_spell = Pair(Rate(250), Rate(2500))
    outlier = Pair(Rate(300), Rate(1000))
    paired = Paired("rejected", "ceiling", (slow_spell, fast_spell, outlier))

    assert paired.ratio.median == pytest.approx(0.1)
    assert (paired.ratio.low, paired.ratio.high) == pytest.approx((0.1, 0.3))
    assert paired.measured_rate.median == 250
    assert paired.reference_rate.median == 1000
    assert paired.median_run() in (slow_spell.measured, fast_spell.measured)
    assert paired.median_run() is not outlier.measured


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ([0.62, 0.65, 0.7], "≥ 0.6 met"),
        ([0.4, 0.5, 0.55], "≥ 0.6 MISSED"),
        ([0.5, 0.61, 0.7], "≥ 0.6 met, within the spread"),
        ([0.5, 0.58, 0.7], "≥ 0.6 missed, within the spread"),
    ],
)
def test_a_target_is_met_or_missed_by_the_whole_spread_or_within_it(ratios, expected):
    assert verdict(Spread.of(ratios), 0.6) == expected


UUID = "10d617a6-34ec-4b9b-95e9-c8d5dc4d33ff"
AT = datetime.datetime(2026, 12, 2, 0, 0, 5, 987654)


def test_binding_a_captured_command_swaps_its_uuid_and_response_id_only():
    script = Script(
        (
            Step(
                "execute", "SELECT ... json_each(?) ... commands.id = ?", ("[987654321]", 1, UUID.replace("-", ""), 1)
            ),
            Step("rollback"),
            Step(
                "execute",
                "INSERT INTO commands ...",
                {
                    "id": UUID,
                    "body": '{"response_ids":[987654321]}',
                    "reply": f'{{"uuid":"{UUID}"}}',
                    "at": AT,
                    "stamp": "2026-12-02 00:00:05.987654",
                    "status": 202,
                    "flag": True,
                },
            ),
            Step("commit"),
        ),
        UUID,
        987654321,
    )
    other = "0b0b0b0b-1111-4222-8333-444444444444"

    bound = script.bind(other, 42)

    assert [step.kind for step in bound] == ["execute", "rollback", "execute", "commit"]
    assert bound[0].parameters == ("[42]", 1, other.replace("-", ""), 1)
    assert bound[2].parameters == {
        "id": other,
        "body": '{"response_ids":[42]}',
        "reply": f'{{"uuid":"{other}"}}',
        "at": AT,
        "stamp": "2026-12-02 00:00:05.987654",  # six digits of microseconds: not the id
        "status": 202,
        "flag": True,
    }
    assert script.statements == 2
    assert script.steps[0].parameters[0] == "[987654321]"  # the capture itself is left as it was


def test_the_worker_table_gives_each_run_and_misses_a_target_any_run_falls_short_of():
    runs = [
        Throughput(concurrency, 100 * concurrency, seconds, round_)
        for round_, (fast, slow) in enumerate([(2.2, 4.4), (2.4, 4.0), (2.6, 3.6)], start=1)
        for concurrency, seconds in ((4, fast), (16, slow))
    ]
    rows = [line for line in worker({"sqlite": runs}) if line.startswith("| sqlite")]
    # At 4: 400 in 2.2, 2.4 and 2.6 s against 200/s ideal; at 16: 1,600 in 4.4, 4.0, 3.6 s against 800/s.
    assert rows == [
        "| sqlite | 4 | 400 | 166.7 | 200 | 0.91 / 0.83 / 0.77 | 0.83 | 0.14 | ≥ 0.8 MISSED in 1 of 3 |",
        "| sqlite | 16 | 1,600 | 400.0 | 800 | 0.45 / 0.50 / 0.56 | 0.50 | 0.10 | ≥ 0.5 MISSED in 1 of 3 |",
    ]
    met = worker({"sqlite": [Throughput(1, 100, 2.4, round_) for round_ in (1, 2, 3)]})
    assert met[-1].endswith("| 0.83 / 0.83 / 0.83 | 0.83 | 0.00 | ≥ 0.8 met in every run |")
