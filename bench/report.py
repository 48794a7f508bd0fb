"""The benchmark's table, printed and written to BENCHMARKS.md with the machine it ran on."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from bench.load import CONNECTIONS, THREADS
from bench.measures import CCD_LATENCY
from entrypoints.http.server import DEFAULT_THREADS, DEFAULT_WORKERS

NOTES_MARK = "<!-- Notes below this line are kept when the benchmark rewrites the file. -->"
TARGETS = {"rejected": 0.6, "replay": 0.6, "accepted": {"sqlite": 0.35, "postgresql": 0.25}}


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return (
        f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _target(scenario: str, kind: str) -> float | None:
    target = TARGETS.get(scenario)
    return target.get(kind) if isinstance(target, dict) else target


def render(results: dict, seconds: int, rounds: int) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Latest run: {when}, on {machine()}.",
        f"Load: wrk, {THREADS} threads, {CONNECTIONS} connections, {seconds} s a run; each scenario run {rounds} "
        f"times, the ceiling between them; the median run of each is shown. gunicorn as `serve` runs it "
        f"({DEFAULT_WORKERS} gthread workers, {DEFAULT_THREADS} threads each) for the service and the ceiling alike.",
        "",
        "## Requests",
        "",
        "| database | scenario | requests/s (median) | every run | p50 ms | p99 ms | ratio to ceiling | target |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for kind, measured in results.items():
        ceiling = measured["ceiling"].per_second
        for scenario in ("ceiling", "rejected", "accepted", "replay"):
            load = measured[scenario]
            target = _target(scenario, kind)
            verdict = (
                "" if target is None else f"≥ {target} {'met' if load.per_second / ceiling >= target else 'MISSED'}"
            )
            every = ", ".join(f"{run.per_second:,.0f}" for run in measured["runs"][scenario])
            lines.append(
                f"| {kind} | {scenario} | {load.per_second:,.0f} | {every} | {load.p50_ms:.2f} | "
                f"{load.p99_ms:.2f} | {load.per_second / ceiling:.2f} | {verdict} |"
            )
    lines += [
        "",
        "## Batch scaling (one command, n ids)",
        "",
        "| database | ids | server ms (X-Runtime, median of 3) | SQL statements | time vs 1 id |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, measured in results.items():
        one = measured["batch"][0].server_ms
        for batch in measured["batch"]:
            lines.append(
                f"| {kind} | {batch.size:,} | {batch.server_ms:.1f} | {batch.statements} | "
                f"{batch.server_ms / one:.1f}× |"
            )
    lines += [
        "",
        "## Durable acknowledgements (accepted commands in process, one after another)",
        "",
        "Durable: SQLite `synchronous=FULL` in WAL, PostgreSQL `synchronous_commit=on` (the defaults now); "
        "relaxed: the previous defaults, `synchronous=NORMAL` and `synchronous_commit=off`. The benchmark's "
        "PostgreSQL runs with fsync on. Modes take turns, medians of the turns.",
        "",
        "| database | durable ms/command | relaxed ms/command | cost of durability |",
        "|---|---:|---:|---:|",
    ]
    for kind, measured in results.items():
        cost = measured["durability"]
        lines.append(f"| {kind} | {cost.durable_ms:.2f} | {cost.relaxed_ms:.2f} | {cost.cost:.2f}× |")
    lines += [
        "",
        f"## Worker throughput (fake CCD answering in {CCD_LATENCY * 1000:.0f} ms)",
        "",
        "| database | concurrency | exports | exports/s | ideal/s | fraction of ideal | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind, measured in results.items():
        for run in measured["worker"]:
            target = 0.8 if run.concurrency <= 4 else 0.5
            fraction = run.per_second / run.ideal
            lines.append(
                f"| {kind} | {run.concurrency} | {run.exports:,} | {run.per_second:,.1f} | {run.ideal:,.0f} | "
                f"{fraction:.2f} | ≥ {target} {'met' if fraction >= target else 'MISSED'} |"
            )
    if any(measured.get("pickup") for measured in results.values()):
        lines += ["", render_pickup(results).rstrip("\n")]
    for measured in results.values():
        if measured.get("prepared"):
            lines += ["", render_prepared(measured["prepared"]).rstrip("\n")]
    return "\n".join(lines) + "\n"


def render_pickup(results: dict) -> str:
    """From a 202 to the worker's claim of the export, and what notifying costs the 202."""
    lines = [
        "## Instant pickup (202 to the worker's claim)",
        "",
        "An idle worker (`--poll 1`, the default, with the listener: LISTEN/NOTIFY on PostgreSQL, "
        "`PRAGMA data_version` every 50 ms on SQLite); one-response commands a random 100 to 300 ms apart.",
        "",
        "| database | commands | median ms | p95 ms | slowest ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, measured in results.items():
        run = measured["pickup"]
        lines.append(
            f"| {kind} | {len(run.latencies_ms)} | {run.median_ms:.1f} | {run.p95_ms:.1f} | "
            f"{max(run.latencies_ms):.1f} |"
        )
    for measured in results.values():
        cost = measured.get("notify")
        if cost:
            lines += [
                "",
                f"pg_notify in the queuing statement: {cost.with_ms:.2f} ms per accepted command against "
                f"{cost.without_ms:.2f} ms without ({cost.cost:.2f}×; in process, one after another, taking turns).",
            ]
    return "\n".join(lines) + "\n"


def render_prepared(comparisons) -> str:
    """Prepared statements (psycopg's default) against none (DATABASE_POOLING=transaction)."""
    lines = [
        "## Prepared statements (PostgreSQL, direct)",
        "",
        "Two services on one database: psycopg's default (a query is prepared after five runs) and "
        "DATABASE_POOLING=transaction (none, as behind PgBouncer). Requests/s, median run.",
        "",
        "| scenario | prepared | not prepared | p50 ms prepared / not | not preparing costs |",
        "|---|---:|---:|---|---:|",
    ]
    for item in comparisons:
        lines.append(
            f"| {item.scenario} | {item.prepared.per_second:,.0f} | {item.unprepared.per_second:,.0f} | "
            f"{item.prepared.p50_ms:.2f} / {item.unprepared.p50_ms:.2f} | {item.cost * 100:+.0f} % |"
        )
    return "\n".join(lines) + "\n"


def write(path: Path, table: str) -> None:
    """Replace the generated part of `path`, keeping the notes written below NOTES_MARK."""
    notes = ""
    if path.exists() and NOTES_MARK in path.read_text():
        notes = path.read_text().split(NOTES_MARK, 1)[1]
    path.write_text(f"{table}\n{NOTES_MARK}{notes or chr(10)}")
