"""GET /metrics on the in-memory store: guarded, and the figures the service counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from falcon import testing

from adapters.memory import InMemoryStore
from adapters.metrics.families import Scrape
from adapters.metrics.multiprocess import MultiprocessDir
from domain.external_systems import ExternalSystem
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from entrypoints.http.metrics import METRICS_PATH
from entrypoints.http.metrics_server import metrics_app
from tests.auth import TEST_TOKEN, authenticated_client
from tests.metrics import samples, value

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(database_url="sqlite://", data_dir=Path("var"), api_tokens=(TEST_TOKEN,))
JSON_HEADERS = {"Content-Type": "application/json"}
UUID = "0b6f3c1e-6f3a-4d0e-9a51-2f7c1d9e8a40"
DURATION = "export_responses_http_request_duration_seconds_count"


@pytest.fixture
def client():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.response_ids.update({18, 19})
    return authenticated_client(create_app(bootstrap(SETTINGS, store=store)))


def command(uuid=UUID, ids=(18,)) -> bytes:
    return json.dumps(
        {"uuid": uuid, "command": "ExportResponses", "data": {"external_system_id": 43, "response_ids": list(ids)}}
    ).encode()


def scrape(client) -> str:
    reply = client.simulate_get(METRICS_PATH)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return reply.text


def test_the_metrics_need_a_token_like_the_api(client):
    anonymous = testing.TestClient(client.app)
    reply = anonymous.simulate_get(METRICS_PATH)
    assert reply.status_code == 401 and reply.json["errors"][0]["code"] == "missing_credentials"
    assert "export_responses" not in reply.text


def test_commands_are_counted_by_outcome(client):
    assert client.simulate_post(EXPORT_RESPONSES_PATH, body=command(), headers=JSON_HEADERS).status_code == 202
    assert client.simulate_post(EXPORT_RESPONSES_PATH, body=command(), headers=JSON_HEADERS).status_code == 202
    conflict = command(ids=(19,))
    assert client.simulate_post(EXPORT_RESPONSES_PATH, body=conflict, headers=JSON_HEADERS).status_code == 409
    unknown = command(uuid="1d7c2a9e-0f3b-4c5d-8e6f-7a8b9c0d1e2f", ids=(999,))
    assert client.simulate_post(EXPORT_RESPONSES_PATH, body=unknown, headers=JSON_HEADERS).status_code == 400
    text = scrape(client)
    counted = {
        outcome: value(text, "export_responses_commands_total", outcome=outcome)
        for outcome in ("accepted", "replayed", "conflict", "rejected")
    }
    assert counted == {"accepted": 1, "replayed": 1, "conflict": 1, "rejected": 1}


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_requests_are_timed_by_route_template_never_by_raw_path(client):
    for export_id in (1, 2, 3):
        client.simulate_get(f"/api/v2/exports/{export_id}")
    client.simulate_get("/no/such/path/7")
    client.simulate_request("BREW", "/health")
    text = scrape(client)
    routes = {dict(labels)["route"] for name, labels in samples(text) if name == DURATION}
    assert routes == {"/api/v2/exports/{export_id:id}", "unmatched", "/health"}
    assert value(text, DURATION, route="/api/v2/exports/{export_id:id}", method="GET", status="404") == 3
    assert value(text, DURATION, route="unmatched", method="GET", status="404") == 1
    assert value(text, DURATION, route="/health", method="other", status="400") == 1


COUNT_ONE_COMMAND = """
from adapters.metrics.multiprocess import MultiprocessDir
from adapters.metrics.families import PrometheusMetrics
import os
MultiprocessDir(os.environ["FOLDER"]).use() if os.environ.get("FIRST") else None
PrometheusMetrics(registry=None).command("accepted")
"""


def test_a_scrape_adds_up_what_every_process_counted_in_the_multiprocess_folder(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999.db").write_bytes(b"left by a previous run")
    for first in ("1", ""):  # the first empties the folder, as `serve` does when it starts
        environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "FOLDER": str(folder), "FIRST": first}
        subprocess.run([sys.executable, "-c", COUNT_ONE_COMMAND], env=environment, cwd=REPO_ROOT, check=True)
    assert len(list(folder.glob("counter_*.db"))) == 2  # one a process, the leftover gone
    text = Scrape(multiprocess_dir=str(folder)).text().decode()
    assert value(text, "export_responses_commands_total", outcome="accepted") == 2


def test_a_private_multiprocess_folder_is_removed_and_the_operators_is_kept(tmp_path):
    private = MultiprocessDir()
    assert private.path.is_dir()
    private.remove()
    assert not private.path.exists()
    given = MultiprocessDir(str(tmp_path / "theirs"))
    given.remove()
    assert given.path.is_dir()


def test_the_workers_own_metrics_app_refuses_every_spelling_without_a_token():
    services = bootstrap(SETTINGS, store=InMemoryStore())
    anonymous = testing.TestClient(metrics_app(services.scrape, (TEST_TOKEN,)))
    for spelling in (METRICS_PATH, "/" + METRICS_PATH, "///" + METRICS_PATH.lstrip("/"), METRICS_PATH + "/"):
        for method in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"):
            reply = anonymous.simulate_request(method, spelling)
            # Refused, or no such route: never the figures.
            assert reply.status_code in (401, 404), (method, spelling, reply.status_code)
            assert "export_responses" not in reply.text
    assert anonymous.simulate_get(METRICS_PATH).status_code == 401
    authorised = testing.TestClient(metrics_app(services.scrape, (TEST_TOKEN,)))
    reply = authorised.simulate_get(METRICS_PATH, headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert reply.status_code == 200 and "export_responses" in reply.text
