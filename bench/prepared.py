"""What prepared statements are worth, on a direct PostgreSQL connection.

Behind a transaction pooler the service runs without them (DATABASE_POOLING=transaction).
Two services on one database, one preparing as psycopg does by default (after five
runs of a query), one not, loaded in turns with the same scenarios.
"""

from __future__ import annotations

from pathlib import Path

from attrs import frozen

from bench import measures
from bench.load import Load, median_load
from bench.processes import service
from tests.postgres import free_port

SCENARIOS = ("rejected", "replay", "accepted")
_ACCEPTED_BLOCKS = {True: 3, False: 4}  # blocks of fresh responses (data.ACCEPTED_IDS) after the main rounds


@frozen
class Prepared:
    scenario: str
    prepared: Load
    unprepared: Load

    @property
    def cost(self) -> float:
        """How much slower without prepared statements (a fraction: 0.05 is 5 %)."""
        return self.prepared.per_second / self.unprepared.per_second - 1


def prepared_against_not(url: str, folder: Path, seconds: int, rounds: int) -> list[Prepared]:
    runs: dict[tuple[str, bool], list[Load]] = {(name, on): [] for name in SCENARIOS for on in (True, False)}
    with (
        service(url, free_port(), folder) as preparing,
        service(url, free_port(), folder, DATABASE_POOLING="transaction") as not_preparing,
    ):
        for base in (preparing, not_preparing):
            measures.warm_up(base)
        for round_number in range(rounds):
            for on, base in ((True, preparing), (False, not_preparing)):
                runs[("rejected", on)].append(measures.rejected(base, seconds))
                runs[("replay", on)].append(measures.replay(base, seconds))
                if round_number == 0:  # each accepted run needs a block of fresh responses
                    runs[("accepted", on)].append(measures.accepted(base, seconds, _ACCEPTED_BLOCKS[on]))
    return [Prepared(name, median_load(runs[(name, True)]), median_load(runs[(name, False)])) for name in SCENARIOS]
