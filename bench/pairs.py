"""Paired runs: each short run of a scenario beside a run of its reference, and the
statistics of their ratios.

This machine's speed swings by a factor of two within seconds, so a rate means little
unless its reference was measured right beside it. A pair is one run of each, back to
back; many pairs, spread over the whole benchmark, give the ratio's median and spread.
The order within a pair alternates (AB, BA, AB...) so that a steady drift of the
machine favours neither side.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Protocol

from attrs import frozen


class Rate(Protocol):
    @property
    def per_second(self) -> float: ...


@frozen
class Pair:
    measured: Rate
    reference: Rate

    @property
    def ratio(self) -> float:
        return self.measured.per_second / self.reference.per_second


def run_pair(index: int, measured: Callable[[], Rate], reference: Callable[[], Rate]) -> Pair:
    """Pair number `index` (0-based): the measured run first on even numbers, second on odd."""
    if index % 2 == 0:
        first = measured()
        return Pair(first, reference())
    second = reference()
    return Pair(measured(), second)


@frozen
class Spread:
    """The median of some values, their quartiles and extremes, and how many there were."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values to summarise")
        ordered = sorted(values)
        if len(ordered) == 1:
            q1 = q3 = ordered[0]
        else:
            # "inclusive": the quartiles of the values themselves, within their range.
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))

    @property
    def relative_iqr(self) -> float:
        """The interquartile range as a share of the median: 0.1 means the middle half of
        the values lie within 10 % of it."""
        return (self.q3 - self.q1) / self.median if self.median else float("inf")


@frozen
class Paired:
    """All the pairs of one scenario against one reference."""

    scenario: str
    reference: str
    pairs: tuple[Pair, ...]

    @property
    def ratio(self) -> Spread:
        return Spread.of([pair.ratio for pair in self.pairs])

    @property
    def measured_rate(self) -> Spread:
        return Spread.of([pair.measured.per_second for pair in self.pairs])

    @property
    def reference_rate(self) -> Spread:
        return Spread.of([pair.reference.per_second for pair in self.pairs])

    def median_run(self) -> Rate:
        """The measured run of the pair with the median ratio (for its latencies)."""
        ordered = sorted(self.pairs, key=lambda pair: pair.ratio)
        return ordered[len(ordered) // 2].measured
