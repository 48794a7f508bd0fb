"""The servers a benchmark run starts and stops: the service, the ceiling app, the fake CCD."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from attrs import frozen

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-3b9f7c1d5e2a"


def _start(arguments: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, *arguments],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def service(database_url: str, port: int, folder: Path, *serve_options: str, **settings: str):
    """`serve` with `serve_options` (e.g. "--workers", "4") and `settings` as environment variables."""
    env = {"DATABASE_URL": database_url, "API_TOKENS": TOKEN, "EXPORT_RESPONSES_DATA_DIR": str(folder), **settings}
    arguments = ["-m", "entrypoints.cli", "serve", "--bind", f"127.0.0.1:{port}", *serve_options]
    return _http_server("service", arguments, port, "/health", folder, env)


def ceiling(port: int, folder: Path):
    return _http_server("ceiling", ["-m", "bench.ceiling", f"127.0.0.1:{port}"], port, "/", folder)


@contextlib.contextmanager
def _http_server(name: str, arguments: list[str], port: int, ready_path: str, folder: Path, env: dict | None = None):
    """Start the server, yield its base URL once `ready_path` answers, stop it on exit."""
    log = folder / f"{name}-{port}.log"
    process = _start(arguments, log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + ready_path, process, log)
        yield base
    finally:
        stop(process)


@frozen
class RunningFake:
    """A fake CCD in its own process: its CCD_* variables, and once stopped what it served."""

    variables: dict[str, str]
    output: Path

    def served(self) -> dict[str, int]:
        """FAKE_CCD_CALLS and FAKE_CCD_RATE_LIMITED, as the command prints them when it stops."""
        lines = (line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line)
        served = {name: int(value) for name, value in lines if name.startswith("FAKE_CCD_")}
        if set(served) != {"FAKE_CCD_CALLS", "FAKE_CCD_RATE_LIMITED"}:
            raise RuntimeError(f"the fake CCD did not say what it served: {self.output.read_text()[-500:]}")
        return served


@contextlib.contextmanager
def fake_ccd(database_url: str, latency: float, folder: Path, rate_limit: float | None = None):
    """A fake CCD in its own process, serving a case for every response; yields a RunningFake."""
    log = folder / "fake-ccd.log"
    variables = folder / f"fake-ccd-{time.monotonic_ns()}.env"
    options = ["--latency", str(latency), "--cases-from-database"]
    if rate_limit is not None:
        options += ["--rate-limit", str(rate_limit)]
    with variables.open("wb") as output, log.open("ab") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "fake-ccd", *options],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=errors,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "CCD_SIDAM_PASSWORD=" not in variables.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake CCD did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        ccd = {
            name: value
            for name, value in (line.split("=", 1) for line in variables.read_text().splitlines() if "=" in line)
            if name.startswith("CCD_")
        }
        yield RunningFake(ccd, variables)
    finally:
        stop(process)


def worker_environment(database_url: str, ccd: dict[str, str], retry_delays: str | None = "1") -> dict[str, str]:
    """The worker's variables; `retry_delays` None: the production schedule (the original's)."""
    delays = {} if retry_delays is None else {"EXPORT_RETRY_DELAYS": retry_delays}
    return {**ccd, "DATABASE_URL": database_url, **delays}


def run_worker(database_url: str, ccd: dict, concurrency: int, folder: Path) -> None:
    log = folder / f"worker-{concurrency}.log"
    env = worker_environment(database_url, ccd)
    process = _start(["-m", "entrypoints.cli", "worker", "--drain", "--concurrency", str(concurrency)], log, env)
    if process.wait(timeout=600) != 0:
        raise RuntimeError(f"the worker failed:\n{log.read_text()[-3000:]}")


def start_worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen:
    """`worker --drain` in its own process (not waited for: see wait_for_cpu)."""
    return _start(["-m", "entrypoints.cli", "worker", "--drain", "--concurrency", str(concurrency)], log, env)


def wait_for_cpu(process: subprocess.Popen, deadline: float) -> float:
    """Wait for `process` to end (killing it past `deadline`, a time.monotonic()) and
    return the CPU seconds it used, user and system, from the kernel's accounting."""
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"the worker {process.pid} did not finish in time")


def start_listening_worker(database_url: str, ccd: dict, folder: Path, *options: str) -> subprocess.Popen:
    """A worker that runs until stopped; its log is at `process.log_path`."""
    log = folder / f"worker-{os.urandom(4).hex()}.log"
    env = {**ccd, "DATABASE_URL": database_url, "EXPORT_RETRY_DELAYS": "1"}
    process = _start(["-m", "entrypoints.cli", "worker", *options], log, env)
    process.log_path = log  # type: ignore[attr-defined]
    return process
