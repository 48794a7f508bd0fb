"""CPU per request through the WSGI app, in process, and the use case's own share.

`python -m bench.http_cpu`: a rejected command (an unknown system) and a replay (the
same uuid again), each through Falcon's test client and straight through the use case,
in alternating rounds; the medians of thread CPU microseconds a request. The store is
the in-memory one, so the gap is the HTTP adapter's own work (parsing, structuring,
middleware, the access log, rendering).
"""

from __future__ import annotations

import io
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from falcon import testing

from adapters.memory import InMemoryStore
from domain.commands import ExportResponses
from entrypoints import logs
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app

TOKEN = "bench-token-for-http-cpu"
ROUNDS, PER_ROUND = 7, 300
UNKNOWN_SYSTEM = 999_999
EXPECTED_CODE = "external_system_not_found"


def _cpu_us(work: Callable[[], object], times: int) -> float:
    started = time.thread_time()
    for _ in range(times):
        work()
    return (time.thread_time() - started) * 1e6 / times


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="export-responses-http-cpu-") as folder:
        measure(Path(folder))


def measure(folder: Path) -> None:
    logs.configure("json", stream=io.StringIO())
    services = bootstrap(Settings("sqlite://", folder, api_tokens=(TOKEN,)), store=InMemoryStore())
    client = testing.TestClient(create_app(services), headers={"Authorization": f"Bearer {TOKEN}"})
    replayed = str(uuid.uuid4())

    def body(command_uuid: str) -> str:
        data = {"external_system_id": UNKNOWN_SYSTEM, "response_ids": [1]}
        return json.dumps({"uuid": command_uuid, "command": "ExportResponses", "data": data})

    def post(command_uuid: str) -> None:
        reply = client.simulate_post(EXPORT_RESPONSES_PATH, body=body(command_uuid), content_type="application/json")
        if reply.status_code != 400 or EXPECTED_CODE not in reply.text:
            raise RuntimeError(f"expected a 400 {EXPECTED_CODE}, got {reply.status_code}: {reply.text[:200]}")

    def use_case(command_uuid: str | None = None) -> None:
        if services.handle_export_responses(_command(command_uuid)).accepted:
            raise RuntimeError("a command to an unknown system was accepted")

    post(replayed)
    cases = {
        "rejected http": lambda: post(str(uuid.uuid4())),
        "rejected use case": lambda: use_case(),
        "replay http": lambda: post(replayed),
        "replay use case": lambda: use_case(replayed),
    }
    found: dict[str, list[float]] = {name: [] for name in cases}
    for index in range(ROUNDS):
        for name in list(cases) if index % 2 == 0 else list(cases)[::-1]:
            found[name].append(_cpu_us(cases[name], PER_ROUND))
    for name, values in found.items():
        print(f"{name:18} {statistics.median(values):7.1f} us  (min {min(values):.1f}, max {max(values):.1f})")
    logging.getLogger().handlers.clear()
    services.close()


def _command(command_uuid: str | None = None) -> ExportResponses:
    return ExportResponses(command_uuid or str(uuid.uuid4()), UNKNOWN_SYSTEM, (1,))


if __name__ == "__main__":
    main()
