"""The Procfile and the systemd units of docs/deploying.md start a working service.

Each runs its commands as its runner would (a Procfile runner: through a shell, with
PORT set; systemd: ExecStart with EnvironmentFile= and Environment=, %i the
instance), on this checkout instead of /opt/export-responses, against a fake CCD:
migrate, then the API answers /health and accepts a command, and the worker exports it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.ccd.fake_server import FakeCcd
from tests.auth import AUTHORIZATION, TEST_TOKEN
from tests.e2e.conftest import REPO_ROOT, REQUEST_TIMEOUT
from tests.e2e.test_stopping import STOP_SECONDS, stop_and_time
from tests.postgres import free_port

pytestmark = pytest.mark.e2e
UNITS = REPO_ROOT / "deploy" / "systemd"
INSTALLED_AT = "/opt/export-responses"
ENV_FILE = "/etc/export-responses/env"
_LEFT_OUT = ("CCD_", "API_", "DATABASE_URL", "EXPORT_", "PORT")


def _clean_environ(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_LEFT_OUT)}
    env.update(PYTHONUNBUFFERED="1", XDG_RUNTIME_DIR=str(tmp_path))
    return env


def _settings(tmp_path: Path, fake: FakeCcd) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'deployed.sqlite3'}", "API_TOKENS": TEST_TOKEN, **fake.base_urls}


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log
    return process


def _serves_and_exports(base_url: str, processes: list[subprocess.Popen]) -> None:
    """Seed a system and a response, then the API accepts a command and the worker exports it."""
    deadline = time.monotonic() + 60
    while True:
        for process in processes:
            assert process.poll() is None, process.log_path.read_text()
        try:
            if requests.get(base_url + "/health", timeout=(1, 2)).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "no /health within 60 s"
        time.sleep(0.2)
    command = str(uuid.uuid4())
    body = {"uuid": command, "command": "ExportResponses", "data": {"external_system_id": 1, "response_ids": [1]}}
    reply = requests.post(
        base_url + "/api/v2/exports/export_responses", json=body, headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT
    )
    assert reply.status_code == 202, reply.text
    while True:
        exports = requests.get(
            base_url + "/api/v2/exports",
            params={"command_uuid": command},
            headers=AUTHORIZATION,
            timeout=REQUEST_TIMEOUT,
        ).json()["exports"]
        if [export["state"] for export in exports] == ["complete"]:
            return
        assert time.monotonic() < deadline, exports
        time.sleep(0.2)


def _serve_export_and_stop(base_url: str, processes: list[subprocess.Popen]) -> None:
    """The processes serve and export; then SIGTERM, as systemd and Procfile runners send, stops each."""
    try:
        _serves_and_exports(base_url, processes)
        for process in processes:
            status, seconds = stop_and_time(process, signal.SIGTERM)
            assert status == 0 and seconds < STOP_SECONDS, (status, seconds, process.log_path.read_text()[-2000:])
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def fake_ccd() -> Iterator[FakeCcd]:
    with FakeCcd() as fake:
        yield fake


def _seed(env: dict[str, str]) -> None:
    """System 1 (CCD Manchester) and response 1 (the fake has no case for it: the export
    completes saying so)."""
    seed = [str(REPO_ROOT / ".venv" / "bin" / "export-responses"), "seed", "--demo-responses", "1"]
    done = subprocess.run(seed, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def procfile() -> dict[str, str]:
    entries = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and name.strip() and not line.startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def test_the_procfile_starts_the_service(fake_ccd, tmp_path):
    fake = fake_ccd
    entries = procfile()
    assert set(entries) == {"release", "web", "worker"}
    port = free_port()
    env = {
        **_clean_environ(tmp_path),
        **_settings(tmp_path, fake),
        "PORT": str(port),
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    release = subprocess.run(
        ["bash", "-c", entries["release"]], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert release.returncode == 0, release.stderr
    _seed(env)
    # A Procfile runner starts each line through a shell; `exec` keeps the signals' target.
    processes = [
        _start(["bash", "-c", f"exec {entries[name]}"], env, tmp_path / f"{name}.log") for name in ("web", "worker")
    ]
    _serve_export_and_stop(f"http://127.0.0.1:{port}", processes)


def installed_units(tmp_path: Path, env_file: Path) -> Path:
    """The units, as if this checkout were installed at /opt/export-responses."""
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(INSTALLED_AT, str(REPO_ROOT)).replace(ENV_FILE, str(env_file))
        (folder / unit.name).write_text(text)
    for template, instance in (("export-responses-api@", "8001"), ("export-responses-worker@", "1")):
        shutil.copy(folder / f"{template}.service", folder / f"{template}{instance}.service")  # what systemd loads
    return folder


def service_section(unit: Path, instance: str = "") -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip().replace("%i", instance))
    return keys


def _unit_command(unit: Path, instance: str, base_env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    keys = service_section(unit, instance)
    env = dict(base_env)
    for env_file in keys.get("EnvironmentFile", []):
        for line in Path(env_file.lstrip("-")).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, value = line.partition("=")
                env[name.strip()] = value.strip()
    for assignment in keys.get("Environment", []):
        for pair in shlex.split(assignment):
            name, _, value = pair.partition("=")
            env[name] = value
    (command,) = keys["ExecStart"]
    return shlex.split(command), env


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true",
    reason="systemd-analyze is not installed",
)
def test_the_systemd_units_verify_and_start_the_service(fake_ccd, tmp_path):
    fake = fake_ccd
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in _settings(tmp_path, fake).items()))
    units = installed_units(tmp_path, env_file)
    api, worker, migrate = (
        units / name
        for name in (
            "export-responses-api@.service",
            "export-responses-worker@.service",
            "export-responses-migrate.service",
        )
    )
    verified = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(migrate),
            str(units / "export-responses-api@8001.service"),
            str(units / "export-responses-worker@1.service"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [line for line in verified.stderr.splitlines() if re.search(r"\.service:\d+:", line)]
    assert verified.returncode == 0 and not problems, verified.stderr

    data_dir = tmp_path / "state"
    base = _clean_environ(tmp_path)
    command, env = _unit_command(migrate, "", base)
    env["EXPORT_RESPONSES_DATA_DIR"] = str(data_dir)  # systemd's StateDirectory=, here
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    _seed(env)
    port = str(free_port())
    processes = []
    for unit, instance in ((api, port), (worker, "1")):
        command, env = _unit_command(unit, instance, base)
        env["EXPORT_RESPONSES_DATA_DIR"] = str(data_dir)
        processes.append(_start(command, env, tmp_path / f"{unit.stem}.log"))
    _serve_export_and_stop(f"http://127.0.0.1:{port}", processes)
