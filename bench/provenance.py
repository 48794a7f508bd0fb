"""Where and what a run measured: the machine, its load, the versions, the commit."""

from __future__ import annotations

import datetime
import os
import platform
import sqlite3
import subprocess
from pathlib import Path

from attrs import frozen

from tests.postgres import PostgresUnavailable, find_bin_dir

ROOT = Path(__file__).resolve().parents[1]


@frozen
class Provenance:
    started: str
    cpu: str
    cores: int
    memory: str
    system: str
    python: str
    sqlite: str
    postgresql: str
    commit: str
    load_at_start: tuple[float, float, float]

    def header(self, load_at_end: tuple[float, float, float], minutes: float) -> list[str]:
        return [
            f"- When: {self.started}, {minutes:.1f} minutes.",
            f"- Commit measured: `{self.commit}`.",
            f"- Machine: {self.cores} cores ({self.cpu}), {self.memory}, {self.system}.",
            f"- Load average (1, 5, 15 min): {_load(self.load_at_start)} at the start, {_load(load_at_end)} at the end.",
            f"- Python {self.python}, SQLite {self.sqlite}, {self.postgresql}.",
        ]


def now() -> Provenance:
    return Provenance(
        started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        memory=_memory(),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        postgresql=_postgresql(),
        commit=commit(),
        load_at_start=os.getloadavg(),
    )


def commit() -> str:
    """HEAD's hash, with "+dirty" when the working tree differs from it."""
    head = _git("rev-parse", "HEAD")
    return head + ("+dirty" if _git("status", "--porcelain") else "")


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return "memory unknown"
    kib = int(meminfo.read_text().split()[1])
    return f"{kib / 1024 / 1024:.0f} GiB"


def _postgresql() -> str:
    try:
        postgres = find_bin_dir() / "postgres"
        return subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError):
        return "PostgreSQL not found"


def _load(averages: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in averages)
