"""Run the benchmark's sections on SQLite and PostgreSQL, print the report, write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import frozen

from bench import ccd_pace, data, durability, measures, paired_requests, provenance, report
from bench.context import Context, Options
from bench.load import wrk_available
from bench.prepared import prepared_against_not

DATABASES = ("sqlite", "postgresql")
OUTPUT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


@frozen
class Section:
    """One part of the report: measured on each of its databases, then rendered."""

    name: str  # for --only
    measure: Callable[[Context], Any]
    render: Callable[[report.Results], list[str]]
    databases: tuple[str, ...] = DATABASES
    in_quick: bool = True  # run by --quick (a smoke run of about a minute)


# The order they run and appear in. A new measurement is one entry here.
SECTIONS = (
    Section("requests", paired_requests.measure, report.requests),
    Section(
        "batch",
        lambda context: measures.batch_scaling(context.service(), context.url, 1 if context.options.quick else 3),
        report.batch,
    ),
    Section("durability", durability.measure, report.durability),
    Section(
        "worker", lambda context: measures.worker_throughput(context.url, context.folder), report.worker, in_quick=False
    ),
    Section("prepared", prepared_against_not, report.prepared, databases=("postgresql",), in_quick=False),
    Section(
        "ccd-pace", lambda context: ccd_pace.measure(context.url, context.folder), report.ccd_pace_table, in_quick=False
    ),
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=1, help="wrk duration of a short run (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=7, help="pairs of runs a scenario (default %(default)s)")
    parser.add_argument("--databases", default=",".join(DATABASES), help="comma-separated (default %(default)s)")
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated sections, of: {', '.join(section.name for section in SECTIONS)} (prints, writes nothing)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of about a minute: 2 pairs of 1 s, the short sections only"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help=f"write the report here (default: {OUTPUT}, full runs)"
    )
    args = parser.parse_args()
    try:
        sections = _chosen(args.only, args.quick)
        databases = _databases(args.databases)
    except ValueError as error:
        parser.error(str(error))
    if not wrk_available():
        print("bench: wrk is needed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    options = Options(1, 2, True) if args.quick else Options(args.seconds, args.pairs, False)
    if options.pairs < 1 or options.seconds <= 0:
        parser.error("--pairs and --seconds must be more than 0")
    started, origin = time.monotonic(), provenance.now()
    results = _run(sections, databases, options)
    rendered = [section.render(results[section.name]) for section in sections if results[section.name]]
    text = report.document(origin, os.getloadavg(), (time.monotonic() - started) / 60, options, rendered)
    print(text)
    output = args.output or (OUTPUT if args.only is None and not args.quick else None)
    if output:
        report.write(output, text)
        print(f"bench: written to {output}")
    return 0


def _run(sections: list[Section], databases: list[str], options: Options) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {section.name: {} for section in sections}
    with tempfile.TemporaryDirectory(prefix="export-responses-bench-") as work:
        folder = Path(work)
        for kind in databases:
            wanted = [section for section in sections if kind in section.databases]
            if not wanted:
                continue
            print(f"bench: {kind}: seeding", flush=True)
            with data.database(kind, folder) as url:
                context = Context(kind, url, folder, options)
                try:
                    for section in wanted:
                        print(f"bench: {kind}: {section.name}", flush=True)
                        results[section.name][kind] = section.measure(context)
                finally:
                    context.close()
    return results


def _chosen(only: str | None, quick: bool) -> list[Section]:
    if only is None:
        return [section for section in SECTIONS if section.in_quick or not quick]
    names = only.split(",")
    unknown = set(names) - {section.name for section in SECTIONS}
    if unknown:
        raise ValueError(f"no such section: {', '.join(sorted(unknown))}")
    return [section for section in SECTIONS if section.name in names]


def _databases(text: str) -> list[str]:
    chosen = text.split(",")
    unknown = set(chosen) - set(DATABASES)
    if unknown:
        raise ValueError(f"no such database: {', '.join(sorted(unknown))} (of {', '.join(DATABASES)})")
    return chosen


if __name__ == "__main__":
    sys.exit(main())
