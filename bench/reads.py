"""The use case's CPU per rejected and per replayed command, in this process, on both databases.

`python -m bench.reads [--rounds N] [--commands N] [--profile KIND]`: the use case as the
service builds it (entrypoints/bootstrap.py), on a SQLite file and on a throwaway
PostgreSQL cluster, both open at once. A round runs a turn of each (database, scenario),
the order turning each round, and takes each turn's thread CPU time per command; the
figures are the medians of the rounds, with their quartiles. The machine's other load
costs wall time, not this thread's CPU, so the figures compare within a run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.data import ACCEPTED_IDS, SYSTEM_ID, seed
from domain.commands import ExportResponses
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.config import Settings
from tests.postgres import Cluster

REPLAYED = ExportResponses("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", SYSTEM_ID, (ACCEPTED_IDS[0],))
DATABASES = ("sqlite", "postgresql")
SCENARIOS = ("rejected", "replay")


def rejected() -> ExportResponses:
    """As the benchmark's wrk script sends: an unknown external system, a fresh uuid."""
    return ExportResponses(str(uuid.uuid4()), -1, (1,))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--commands", type=int, default=300, help="commands a turn")
    parser.add_argument("--profile", choices=DATABASES, help="then profile 3,000 rejected commands on this database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-responses-reads-") as work, _services(Path(work)) as services:
        figures = measure(services, args.rounds, args.commands)
        print(render(figures, args.rounds, args.commands))
        if args.profile:
            profile(services[args.profile])
    return 0


@contextlib.contextmanager
def _services(folder: Path) -> Iterator[dict[str, Services]]:
    cluster = Cluster().start()
    opened: dict[str, Services] = {}
    try:
        urls = {"sqlite": f"sqlite:///{folder / 'reads.sqlite3'}", "postgresql": cluster.create_database("reads")}
        for kind, url in urls.items():
            seed(url)
            opened[kind] = bootstrap(Settings(database_url=url, data_dir=folder))
            if not opened[kind].handle_export_responses(REPLAYED).accepted:
                raise RuntimeError("the command to replay was not accepted")
        yield opened
    finally:
        for services in opened.values():
            services.close()
        cluster.stop()


def measure(services: dict[str, Services], rounds: int, commands: int) -> dict[tuple[str, str], list[float]]:
    """µs of thread CPU per command, a value a round, by (database, scenario)."""
    turns = [(kind, scenario) for kind in DATABASES for scenario in SCENARIOS]
    for kind, scenario in turns:  # warm up: caches, prepared statements, the pools
        _turn(services[kind], scenario, commands)
    figures: dict[tuple[str, str], list[float]] = {turn: [] for turn in turns}
    for index in range(rounds):
        order = turns if index % 2 == 0 else turns[::-1]
        for kind, scenario in order:
            figures[kind, scenario].append(_turn(services[kind], scenario, commands))
    return figures


def _turn(services: Services, scenario: str, commands: int) -> float:
    make: Callable[[], ExportResponses] = rejected if scenario == "rejected" else lambda: REPLAYED
    sent = [make() for _ in range(commands)]
    started = time.thread_time()
    for command in sent:
        result = services.handle_export_responses(command)
        if result.accepted != (scenario == "replay"):
            raise RuntimeError(f"a {scenario} command answered otherwise")
    return (time.thread_time() - started) * 1e6 / commands


def render(figures: dict[tuple[str, str], list[float]], rounds: int, commands: int) -> str:
    lines = [
        f"use case CPU per command, µs (thread time; median of {rounds} rounds of {commands}, [q1, q3])",
        "| scenario | " + " | ".join(DATABASES) + " | postgresql / sqlite |",
        "|---|" + "---:|" * (len(DATABASES) + 1),
    ]
    for scenario in SCENARIOS:
        medians = [statistics.median(figures[kind, scenario]) for kind in DATABASES]
        cells = [
            f"{median:.0f} [{_quartiles(figures[kind, scenario])}]"
            for median, kind in zip(medians, DATABASES, strict=True)
        ]
        lines.append(f"| {scenario} | " + " | ".join(cells) + f" | {medians[1] / medians[0]:.2f} |")
    return "\n".join(lines)


def _quartiles(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.0f}, {q3:.0f}"


def profile(services: Services) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3_000):
        services.handle_export_responses(rejected())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
