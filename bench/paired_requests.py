"""The request scenarios, each paired with its reference: the ceiling (a bare Falcon app
under the same gunicorn settings) or, for accepted commands, the bare driver too.

Round after round every pairing takes one pair, so the pairs of a scenario are spread
over the whole section rather than bunched in one spell of the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from attrs import frozen

from bench import bare_driver, data, measures
from bench.context import Context
from bench.pairs import Pair, Paired, Rate, run_pair

Measure = Callable[[Context], Rate]
BARE_DRIVER = "bare driver"


def _ceiling(context: Context) -> Rate:
    return measures.ceiling(context.ceiling(), context.options.seconds)


def _rejected(context: Context) -> Rate:
    return measures.rejected(context.service(), context.options.seconds)


def _accepted(context: Context) -> Rate:
    return measures.accepted(context.service(), context.url, context.options.seconds)


def _replay(context: Context) -> Rate:
    return measures.replay(context.service(), context.options.seconds)


def _bare_driver(context: Context) -> Rate:
    data.clear_exports(context.url)
    return bare_driver.run(context.url, context.accepted_script(), data.BARE_DRIVER_IDS, context.options.seconds)


@frozen
class Pairing:
    scenario: str
    reference: str
    measured: Measure
    against: Measure


# One entry a pairing: a new scenario against a reference is one line here.
PAIRINGS = (
    Pairing("rejected", "ceiling", _rejected, _ceiling),
    Pairing("accepted", "ceiling", _accepted, _ceiling),
    Pairing("replay", "ceiling", _replay, _ceiling),
    Pairing("accepted", BARE_DRIVER, _accepted, _bare_driver),
)


def measure(context: Context) -> list[Paired]:
    pairs: dict[Pairing, list[Pair]] = {pairing: [] for pairing in PAIRINGS}
    for index in range(context.options.pairs):
        print(f"bench: {context.kind}: requests, pair {index + 1} of {context.options.pairs}", flush=True)
        for pairing in PAIRINGS:
            measured, against = partial(pairing.measured, context), partial(pairing.against, context)
            pairs[pairing].append(run_pair(index, measured, against))
    return [Paired(pairing.scenario, pairing.reference, tuple(found)) for pairing, found in pairs.items()]
