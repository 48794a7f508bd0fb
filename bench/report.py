"""The benchmark's report: printed, and written to BENCHMARKS.md above the notes kept there."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import ccd_pace, measures
from bench.context import Options
from bench.load import CONNECTIONS, THREADS
from bench.paired_requests import BARE_DRIVER
from bench.pairs import Spread
from bench.provenance import Provenance
from entrypoints.http.server import DEFAULT_THREADS, DEFAULT_WORKERS

NOTES_MARK = "<!-- Notes below this line are kept when the benchmark rewrites the file. -->"
# Ratios to the reference measured beside them (issue 15), by database where they differ.
TARGETS: dict[tuple[str, str], Mapping[str, float]] = {
    ("rejected", "ceiling"): {"sqlite": 0.6, "postgresql": 0.45},
    ("replay", "ceiling"): {"sqlite": 0.6, "postgresql": 0.45},
    ("accepted", "ceiling"): {"sqlite": 0.35, "postgresql": 0.3},
    ("accepted", BARE_DRIVER): {"sqlite": 0.7, "postgresql": 0.7},
}
Results = Mapping[str, Any]  # one section's figures, by database


def document(
    provenance: Provenance,
    load_at_end: tuple[float, float, float],
    minutes: float,
    options: Options,
    sections: list[list[str]],
) -> str:
    lines = [
        "# Benchmarks",
        "",
        *provenance.header(load_at_end, minutes),
        f"- Options: {options.seconds} s a run, {options.pairs} pairs a scenario"
        f"{', quick (a smoke run)' if options.quick else ''}.",
    ]
    for section in sections:
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def _spread(spread: Spread, digits: int = 2) -> tuple[str, str, str]:
    """The median, the interquartile range, and the extremes, as the tables show them."""
    return (
        f"{spread.median:.{digits}f}",
        f"{spread.q1:.{digits}f}–{spread.q3:.{digits}f}",
        f"{spread.low:.{digits}f}–{spread.high:.{digits}f}",
    )


def verdict(ratio: Spread, target: float | None) -> str:
    if target is None:
        return ""
    if ratio.q1 >= target:
        return f"≥ {target} met"
    if ratio.q3 < target:
        return f"≥ {target} MISSED"
    return f"≥ {target} {'met' if ratio.median >= target else 'missed'}, within the spread"


def requests(results: Results) -> list[str]:
    lines = [
        "## Requests, each run paired with its reference",
        "",
        f"wrk, {THREADS} threads, {CONNECTIONS} connections; the service and the ceiling (a bare Falcon app "
        f"answering a constant body) under the same gunicorn settings, as `serve` runs "
        f"({DEFAULT_WORKERS} gthread workers, {DEFAULT_THREADS} threads each). Each run of a scenario is paired "
        "with a run of its reference right beside it (order alternating); the ratio is the pair's, its median "
        "over the pairs with the interquartile range and the extremes. The bare driver is one accepted command's "
        "captured statements replayed through `sqlite3` / `psycopg` in one process, with the same durability.",
        "",
        "| database | scenario | against | pairs | ratio (median) | IQR | min–max | scenario /s | "
        "reference /s | p50 / p99 ms | target |",
        "|---|---|---|---:|---:|---|---|---:|---:|---|---|",
    ]
    for kind, found in results.items():
        for paired in found:
            median, iqr, extremes = _spread(paired.ratio)
            run = paired.median_run()
            latency = f"{run.p50_ms:.1f} / {run.p99_ms:.1f}" if hasattr(run, "p50_ms") else ""
            target = TARGETS.get((paired.scenario, paired.reference), {}).get(kind)
            lines.append(
                f"| {kind} | {paired.scenario} | {paired.reference} | {len(paired.pairs)} | {median} | {iqr} | "
                f"{extremes} | {paired.measured_rate.median:,.0f} | {paired.reference_rate.median:,.0f} | "
                f"{latency} | {verdict(paired.ratio, target)} |"
            )
    return lines


def batch(results: Results) -> list[str]:
    lines = [
        "## Batch scaling (one command, n ids)",
        "",
        "Server time is X-Runtime over HTTP; the sizes take turns, round after round.",
        "",
        "| database | ids | server ms (median) | fastest–slowest | runs | SQL statements | median vs 1 id |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for kind, found in results.items():
        one = found[0].server_ms
        for item in found:
            lines.append(
                f"| {kind} | {item.size:,} | {item.server_ms:.1f} | {item.fastest_ms:.1f}–{item.slowest_ms:.1f} | "
                f"{item.repeats} | {item.statements} | {item.server_ms / one:.1f}× |"
            )
    return lines


def durability(results: Results) -> list[str]:
    lines = [
        "## Durable acknowledgements (accepted commands in process, one after another)",
        "",
        "Durable: SQLite `synchronous=FULL` in WAL, PostgreSQL `synchronous_commit=on` (the defaults); "
        "relaxed: the previous defaults, `synchronous=NORMAL` and `synchronous_commit=off`, with fsync on. "
        "A turn of each mode makes a pair; the cost is the relaxed rate over the durable one.",
        "",
        "| database | pairs | durable ms/command (median) | relaxed ms/command (median) | cost (median) | "
        "IQR | min–max |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for kind, paired in results.items():
        cost = Spread.of([1 / pair.ratio for pair in paired.pairs])
        median, iqr, extremes = _spread(cost)
        lines.append(
            f"| {kind} | {len(paired.pairs)} | {1000 / paired.measured_rate.median:.2f} | "
            f"{1000 / paired.reference_rate.median:.2f} | {median}× | {iqr} | {extremes} |"
        )
    return lines


def worker(results: Results) -> list[str]:
    lines = [
        f"## Worker throughput (fake CCD answering in {measures.CCD_LATENCY * 1000:.0f} ms)",
        "",
        f"One `worker --drain --concurrency N` a run, {measures.WORKER_RUNS} runs a level, the levels taking turns: "
        "its reference is the ideal (N / latency), a constant, so it has no pairs. The target holds in every run "
        "or it is missed; the spread is the runs' lowest to highest fraction.",
        "",
        "| database | concurrency | exports | exports/s (median) | ideal/s | fraction of ideal, each run | "
        "median | spread | target |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for kind, found in results.items():
        for concurrency in sorted({run.concurrency for run in found}):
            runs = sorted((run for run in found if run.concurrency == concurrency), key=lambda run: run.round)
            fractions = [run.fraction for run in runs]
            lines.append(
                f"| {kind} | {concurrency} | {runs[0].exports:,} | "
                f"{statistics.median(run.per_second for run in runs):,.1f} | {runs[0].ideal:,.0f} | "
                f"{' / '.join(f'{fraction:.2f}' for fraction in fractions)} | {statistics.median(fractions):.2f} | "
                f"{max(fractions) - min(fractions):.2f} | {_worker_target(concurrency, fractions)} |"
            )
    return lines


def _worker_target(concurrency: int, fractions: list[float]) -> str:
    target = 0.8 if concurrency <= 4 else 0.5
    short = sum(fraction < target for fraction in fractions)
    if not short:
        return f"≥ {target} met in every run"
    return f"≥ {target} MISSED in {short} of {len(fractions)}"


def prepared(results: Results) -> list[str]:
    lines = [
        "## Prepared statements (PostgreSQL, direct)",
        "",
        "Two services on one database: psycopg's default (a query is prepared after five runs) and "
        "DATABASE_POOLING=transaction (none, as behind PgBouncer), in pairs. The ratio is the preparing "
        "service's rate over the other's (1.05: preparing is 5 % faster).",
        "",
        "| scenario | pairs | prepared /s | not prepared /s | ratio (median) | IQR | min–max |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for found in results.values():
        for paired in found:
            median, iqr, extremes = _spread(paired.ratio)
            lines.append(
                f"| {paired.scenario} | {len(paired.pairs)} | {paired.measured_rate.median:,.0f} | "
                f"{paired.reference_rate.median:,.0f} | {median} | {iqr} | {extremes} |"
            )
    return lines


def ccd_pace_table(results: Results) -> list[str]:
    lines = [
        "## Exports at CCD's pace",
        "",
        f"{ccd_pace.EXPORTS:,} exports, {ccd_pace.WORKERS} × `worker --drain --concurrency {ccd_pace.CONCURRENCY}`, "
        f"a fake CCD answering in {ccd_pace.LATENCY * 1000:.0f} ms and refusing calls beyond "
        f"{ccd_pace.RATE_LIMIT} a second with 429. Ideal: {ccd_pace.EXPORTS / ccd_pace.RATE_LIMIT:.0f} s. "
        "Drain: first attempt started to last export final (events). The production retry schedule; a 429 is "
        "not charged, the workers share a throttle. Pickup: a new export to a second system, queued while the "
        "2,000 drain, commit to claim. One run per database.",
        "",
        "| database | drain s | fraction of ideal | complete | failed | attempts charged | attempts refused (429) | "
        "calls to CCD | 429s | pickups | pickup median ms | p95 ms | max ms | worker CPU ms/export | worker starts |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, pace in results.items():
        lines.append(
            f"| {kind} | {pace.seconds:.1f} | {pace.fraction_of_ideal:.2f} | {pace.complete:,} | {pace.failed:,} | "
            f"{pace.attempts:,} | {pace.attempts_refused:,} | {pace.calls:,} | {pace.rate_limited:,} | "
            f"{len(pace.pickups_ms)} | {pace.pickup_median_ms:.1f} | {pace.pickup_p95_ms:.1f} | {pace.pickup_max_ms:.1f} | "
            f"{pace.cpu_ms_per_export:.1f} | {pace.starts} |"
        )
    return lines


def pickup(results: Results) -> list[str]:
    """From a 202 to the worker's claim of the export (bench/pickup.py)."""
    lines = [
        "## Instant pickup (202 to the worker's claim)",
        "",
        "An idle worker (`--poll 1`, the default, with the listener: LISTEN/NOTIFY on PostgreSQL, "
        "`PRAGMA data_version` every 50 ms on SQLite); one-response commands a random 100 to 300 ms apart. "
        "Negative: the worker had claimed the export before the client read its 202.",
        "",
        "| database | commands | median ms | p95 ms | slowest ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, run in results.items():
        lines.append(
            f"| {kind} | {len(run.latencies_ms)} | {run.median_ms:.1f} | {run.p95_ms:.1f} | "
            f"{max(run.latencies_ms):.1f} |"
        )
    return lines


def notify_cost(results: Results) -> list[str]:
    """What pg_notify in the queuing statement costs an accepted command (bench/pickup.py)."""
    lines = [
        "## The notification's cost (PostgreSQL, accepted commands in process, one after another)",
        "",
        "| database | with pg_notify ms/command | without ms/command | cost |",
        "|---|---:|---:|---:|",
    ]
    for kind, cost in results.items():
        lines.append(f"| {kind} | {cost.with_ms:.2f} | {cost.without_ms:.2f} | {cost.cost:.2f}× |")
    return lines


def write(path: Path, table: str) -> None:
    """Replace the generated part of `path`, keeping the notes written below NOTES_MARK."""
    notes = ""
    if path.exists() and NOTES_MARK in path.read_text():
        notes = path.read_text().split(NOTES_MARK, 1)[1]
    path.write_text(f"{table}\n{NOTES_MARK}{notes or chr(10)}")
