"""What prepared statements are worth, on a direct PostgreSQL connection.

Behind a transaction pooler the service runs without them (DATABASE_POOLING=transaction).
Two services on one database, one preparing as psycopg does by default (after five
runs of a query), one not, loaded in pairs (bench/pairs.py) with the same scenarios.
"""

from __future__ import annotations

from functools import partial

from bench import measures
from bench.context import Context
from bench.pairs import Pair, Paired, run_pair
from bench.processes import service
from tests.postgres import free_port


def prepared_against_not(context: Context) -> list[Paired]:
    """For each scenario, pairs of (preparing, not preparing): the ratio is how much
    faster preparing is (1.05: 5 %)."""
    url, folder, seconds = context.url, context.folder, context.options.seconds
    with (
        service(url, free_port(), folder) as preparing,
        service(url, free_port(), folder, DATABASE_POOLING="transaction") as not_preparing,
    ):
        for base in (preparing, not_preparing):
            measures.warm_up(base)
        scenarios = {
            "rejected": lambda base: measures.rejected(base, seconds),
            "replay": lambda base: measures.replay(base, seconds),
            "accepted": lambda base: measures.accepted(base, url, seconds),
        }
        pairs: dict[str, list[Pair]] = {name: [] for name in scenarios}
        for index in range(max(2, context.options.pairs // 2)):
            for name, run in scenarios.items():
                pairs[name].append(run_pair(index, partial(run, preparing), partial(run, not_preparing)))
    return [Paired(name, "not prepared", tuple(found)) for name, found in pairs.items()]
