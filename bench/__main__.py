"""Run every measurement on SQLite and PostgreSQL, print the table, write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import data, durability, measures, pickup, report
from bench.load import median_load, wrk_available
from bench.prepared import prepared_against_not
from bench.processes import ceiling, service
from tests.postgres import free_port

SCENARIOS = ("rejected", "accepted", "replay")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per run (default %(default)s)")
    parser.add_argument(
        "--rounds", type=int, default=3, choices=(1, 2, 3), help="runs of each scenario (default %(default)s)"
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (default %(default)s)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "BENCHMARKS.md")
    parser.add_argument(
        "--only-prepared",
        action="store_true",
        help="only prepared statements against none on PostgreSQL; prints, writes nothing",
    )
    parser.add_argument(
        "--only-pickup",
        action="store_true",
        help="only the pickup latency (and the notification's cost on PostgreSQL); prints, writes nothing",
    )
    args = parser.parse_args()
    if args.only_pickup:
        return _only_pickup(args.databases.split(","))
    if not wrk_available():
        print("bench: wrk is needed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="export-responses-bench-") as work:
        folder = Path(work)
        if args.only_prepared:
            with data.database("postgresql", folder) as url:
                print(report.render_prepared(prepared_against_not(url, folder, args.seconds, args.rounds)))
            return 0
        for kind in args.databases.split(","):
            print(f"bench: {kind}: seeding", flush=True)
            with data.database(kind, folder) as url:
                results[kind] = measure(url, folder, args.seconds, kind, args.rounds)
    table = report.render(results, args.seconds, args.rounds)
    print(table)
    report.write(args.output, table)
    print(f"bench: written to {args.output}")
    return 0


def measure(url: str, folder: Path, seconds: int, kind: str, rounds: int) -> dict:
    """Each scenario `rounds` times, the ceiling between them, both servers up all along.

    This machine is shared: its speed drifts by half within a minute. Interleaving the
    ceiling with the scenarios and taking medians keeps the ratios to what one run shows.
    """
    runs: dict[str, list] = {name: [] for name in ("ceiling", *SCENARIOS)}
    with ceiling(free_port(), folder) as ceiling_base, service(url, free_port(), folder) as service_base:
        measures.warm_up(ceiling_base)
        measures.warm_up(service_base)
        for round_number in range(1, rounds + 1):
            print(f"bench: {kind}: round {round_number} of {rounds}", flush=True)
            runs["ceiling"].append(measures.ceiling(ceiling_base, seconds))
            runs["rejected"].append(measures.rejected(service_base, seconds))
            runs["accepted"].append(measures.accepted(service_base, seconds, round_number - 1))
            runs["replay"].append(measures.replay(service_base, seconds))
        runs["ceiling"].append(measures.ceiling(ceiling_base, seconds))
        print(f"bench: {kind}: batch scaling", flush=True)
        batch = measures.batch_scaling(service_base, url)
    prepared = None
    if kind == "postgresql":
        print(f"bench: {kind}: prepared statements against none", flush=True)
        prepared = prepared_against_not(url, folder, seconds, rounds)
    print(f"bench: {kind}: durable commits", flush=True)
    durable = durability.measure(url)
    print(f"bench: {kind}: pickup latency", flush=True)
    latency = _pickup(url, folder, kind)
    print(f"bench: {kind}: worker throughput", flush=True)
    return {
        **latency,
        **{name: median_load(loads) for name, loads in runs.items()},
        "runs": runs,
        "batch": batch,
        "prepared": prepared,
        "durability": durable,
        "worker": measures.worker_throughput(url, folder),
    }


def _pickup(url: str, folder: Path, kind: str) -> dict:
    return {
        "pickup": pickup.pickup(url, folder),
        "notify": pickup.notify_cost(url) if kind == "postgresql" else None,
    }


def _only_pickup(kinds: list[str]) -> int:
    results = {}
    with tempfile.TemporaryDirectory(prefix="export-responses-bench-") as work:
        folder = Path(work)
        for kind in kinds:
            print(f"bench: {kind}: seeding", flush=True)
            with data.database(kind, folder) as url:
                print(f"bench: {kind}: pickup latency", flush=True)
                results[kind] = _pickup(url, folder, kind)
    print(report.render_pickup(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
