"""Load from wrk, a C load generator, so that the client is not what limits the figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from attrs import frozen

SCRIPT = Path(__file__).with_name("wrk") / "command.lua"
THREADS, CONNECTIONS = 2, 16
_RESULT = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) socket_errors=(\d+)"
)


@frozen
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, seconds: int, *script_arguments: str) -> Load:
    """wrk takes whole seconds only."""
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        *script_arguments,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    found = _RESULT.search(output)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    requests, duration, p50, p99, non_2xx, socket_errors = map(int, found.groups())
    return Load(requests, duration / 1e6, p50 / 1000, p99 / 1000, non_2xx, socket_errors)
