"""The fake CCD itself, over HTTP with plain requests, and the `fake-ccd` command."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from adapters.ccd.fake_server import FakeCcd
from adapters.ccd.http_gateway import HttpCcdGateway
from adapters.ccd.settings import CcdSettings
from adapters.sql import tables
from adapters.sql.engine import create_engine
from entrypoints.cli import fake_ccd as fake_ccd_command
from entrypoints.config import Settings
from tests.builders import NOW, add_external_system, add_responses

CASE_TYPE = "ET_EnglandWales"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    with FakeCcd() as fake:
        yield fake


def log_in(fake: FakeCcd) -> dict[str, str]:
    service = requests.post(
        f"{fake.url}/auth/lease", json={"microservice": "ccd_gw", "oneTimePassword": "123456"}, timeout=5
    )
    user = requests.post(
        f"{fake.url}/idam/loginUser", data={"username": fake.username, "password": fake.password}, timeout=5
    )
    assert (service.status_code, user.status_code) == (200, 200)
    return {"ServiceAuthorization": f"Bearer {service.text}", "Authorization": f"Bearer {user.json()['access_token']}"}


def search(fake: FakeCcd, headers: dict[str, str], number: str = "2400001/2024") -> requests.Response:
    url = f"{fake.url}/data_store/caseworkers/{fake.user_id}/jurisdictions/EMPLOYMENT/case-types/{CASE_TYPE}/cases"
    return requests.get(url, params={"case.ethosCaseReference": number}, headers=headers, timeout=5)


def test_serves_cases_newest_first_to_the_tokens_it_issued(fake):
    older = fake.add_case(CASE_TYPE, "2400001/2024", "Leeds")
    newer = fake.add_case(CASE_TYPE, "2400001/2024", shape="v2")

    reply = search(fake, log_in(fake))

    assert reply.status_code == 200
    assert reply.json() == [newer, older]
    assert (older["case_type_id"], older["case_data"]) == (
        CASE_TYPE,
        {"ethosCaseReference": "2400001/2024", "managingOffice": "Leeds"},
    )
    assert (newer["case_type"], newer["data"]) == (CASE_TYPE, {"ethosCaseReference": "2400001/2024"})
    assert isinstance(newer["id"], str) and isinstance(older["id"], int)


def test_serves_one_case_by_id(fake):
    case = fake.add_case(CASE_TYPE, "2400001/2024", "Leeds")
    base = f"{fake.url}/data_store/caseworkers/{fake.user_id}/jurisdictions/EMPLOYMENT/case-types/{CASE_TYPE}/cases"
    headers = log_in(fake)

    assert requests.get(f"{base}/{case['id']}", headers=headers, timeout=5).json() == case
    assert requests.get(f"{base}/42", headers=headers, timeout=5).status_code == 404


def test_details_name_the_user_of_the_token(fake):
    headers = log_in(fake)
    details = requests.get(f"{fake.url}/idam/details", headers={"Authorization": headers["Authorization"]}, timeout=5)
    assert details.json()["id"] == fake.user_id
    assert details.json()["roles"] == list(fake.roles)


@pytest.mark.parametrize(
    "lease",
    [
        {"microservice": "someone_else", "oneTimePassword": "123456"},
        {"microservice": "ccd_gw", "oneTimePassword": "12345"},
    ],
)
def test_a_lease_needs_the_microservice_and_a_one_time_password(fake, lease):
    assert requests.post(f"{fake.url}/auth/lease", json=lease, timeout=5).status_code == 401


def test_a_login_needs_the_password(fake):
    form = {"username": fake.username, "password": "guess"}
    assert requests.post(f"{fake.url}/idam/loginUser", data=form, timeout=5).status_code == 401


def test_refuses_tokens_it_did_not_issue_and_expired_ones(fake):
    headers = log_in(fake)
    assert search(fake, {**headers, "ServiceAuthorization": "Bearer made-up"}).status_code == 403
    assert (
        search(
            fake, {"ServiceAuthorization": headers["Authorization"], "Authorization": headers["Authorization"]}
        ).status_code
        == 403
    )
    fake.expire_tokens()
    assert search(fake, headers).status_code == 401
    assert search(fake, log_in(fake)).status_code == 200


def test_fails_the_next_requests_of_a_stage_as_told(fake):
    headers = log_in(fake)
    fake.fail_next("data", [502, 0, 504])

    assert [search(fake, headers).status_code for _ in range(4)] == [502, 200, 504, 200]
    assert fake.calls_to("/data_store") == 4
    assert fake.calls["/auth/lease"] == 1


def test_delays_answers_as_told(fake):
    headers = log_in(fake)
    fake.delay_next(0.3, stage="data")

    started = time.monotonic()
    search(fake, headers)
    delayed = time.monotonic() - started
    started = time.monotonic()
    search(fake, headers)

    assert delayed >= 0.3 > time.monotonic() - started


def test_latency_slows_every_data_store_call_only(fake):
    fake.latency = 0.25
    started = time.monotonic()
    headers = log_in(fake)
    logged_in = time.monotonic()
    search(fake, headers)
    assert logged_in - started < 0.25 <= time.monotonic() - logged_in


def test_refuses_calls_beyond_its_rate_limit_with_429_and_retry_after():
    now = [1000.0]
    with FakeCcd(rate_limit=2, clock=lambda: now[0]) as fake:
        headers = log_in(fake)  # two calls: the burst of one second's worth
        refused = search(fake, headers)
        now[0] += 0.5  # one call's worth back, at 2 a second
        allowed = search(fake, headers)
        again = search(fake, headers)

        assert (refused.status_code, allowed.status_code, again.status_code) == (429, 200, 429)
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"] == "Too Many Requests"
        assert fake.rate_limited == 2
        assert fake.calls_to("/data_store") == 3  # refused calls are calls received too


def test_retry_after_says_the_whole_seconds_until_a_call_is_allowed():
    now = [1000.0]
    with FakeCcd(rate_limit=0.25, clock=lambda: now[0]) as fake:
        log_in_reply = requests.post(
            f"{fake.url}/auth/lease", json={"microservice": "ccd_gw", "oneTimePassword": "123456"}, timeout=5
        )
        now[0] += 1.5
        refused = requests.post(f"{fake.url}/auth/lease", json={}, timeout=5)

    assert log_in_reply.status_code == 200
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "3")  # 2.5 s, rounded up


def test_the_rate_limit_holds_across_all_its_threads():
    with FakeCcd(rate_limit=10, clock=lambda: 1000.0) as fake:  # time stands still: no refill
        with ThreadPoolExecutor(max_workers=15) as pool:
            statuses = list(
                pool.map(lambda _: requests.post(f"{fake.url}/auth/lease", json={}, timeout=10).status_code, range(30))
            )
        fake.limit_rate(None)
        lifted = requests.post(f"{fake.url}/auth/lease", json={}, timeout=5).status_code

    assert statuses.count(429) == 20 and fake.rate_limited == 20
    assert lifted == 401  # answered again (and refused for its body, not its rate)


def test_refuses_connections_then_listens_again_on_the_same_port(fake):
    headers = log_in(fake)
    port = fake.port
    fake.refuse_connections()

    with pytest.raises(requests.ConnectionError):
        search(fake, headers)

    fake.accept_connections()
    assert fake.port == port
    assert search(fake, headers).status_code == 200


def test_stopping_ends_a_delayed_answer():
    fake = FakeCcd().start()
    fake.delay_next(30)
    started = time.monotonic()
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{fake.url}/auth/lease", json={}, timeout=5)
    assert time.monotonic() - started < 5


# -- the fake-ccd command --------------------------------------------------------------


def command_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    fake_ccd_command.add_to(parser.add_subparsers(required=True))
    return parser.parse_args(["fake-ccd", *argv])


def add_case_type(connection: sa.Connection, system_id: int, case_type_id: str) -> None:
    connection.execute(
        sa.insert(tables.external_system_configurations),
        {
            "external_system_id": system_id,
            "key": "case_type_id",
            "value": case_type_id,
            "can_read": True,
            "can_write": True,
            "created_at": NOW,
            "updated_at": NOW,
        },
    )


def test_the_command_serves_a_case_for_every_response_in_the_database(sqlite_url, tmp_path, capsys):
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        add_external_system(connection, 1)
        add_case_type(connection, 1, "ET_EnglandWales")
        add_external_system(connection, 2, reference="claims_only", export_responses=False)
        add_case_type(connection, 2, "ET_ClaimsOnly")
        add_responses(connection, [1, 2, 3])  # case numbers 2400001/2024 to 2400003/2024
        connection.execute(
            sa.update(tables.responses).where(tables.responses.c.id == 2).values(case_number="9900002/2024")
        )
        # A response without a case number has no case, and stops nothing.
        connection.execute(sa.update(tables.responses).where(tables.responses.c.id == 3).values(case_number=None))
        connection.execute(sa.delete(tables.offices).where(tables.offices.c.code == 99))
    engine.dispose()
    seen = {}

    def look(fake: FakeCcd) -> None:
        gateway = HttpCcdGateway(CcdSettings.from_environ(fake.base_urls))
        seen["cases"] = len(fake.cases())
        seen["latency"] = fake.latency
        for number in ("2400001/2024", "9900002/2024"):
            seen[number] = gateway.find_latest_case("ET_EnglandWales", number)
        seen["claims only"] = gateway.find_latest_case("ET_ClaimsOnly", "2400001/2024")
        gateway.close()

    args = command_args("--cases-from-database", "--latency", "0.01")
    assert args.run(args, Settings(database_url=sqlite_url, data_dir=tmp_path), wait=look) == 0

    assert seen["cases"] == 2 and seen["latency"] == 0.01
    assert seen["2400001/2024"].managing_office == "Manchester"
    assert seen["9900002/2024"] is not None and seen["9900002/2024"].managing_office is None
    assert seen["claims only"] is None
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert CcdSettings.from_environ(printed).data_store_base_url.endswith("/data_store")


@pytest.mark.parametrize("bind", ["localhost", "127.0.0.1:http", "127.0.0.1:70000"])
def test_the_command_refuses_a_bad_bind(bind, capsys):
    with pytest.raises(SystemExit):
        command_args("--bind", bind)
    assert "expected HOST:PORT" in capsys.readouterr().err


@pytest.mark.parametrize("rate", ["0", "-5", "fast", "inf"])
def test_the_command_refuses_a_bad_rate_limit(rate, capsys):
    with pytest.raises(SystemExit):
        command_args("--rate-limit", rate)
    assert "--rate-limit: must be" in capsys.readouterr().err


def test_the_command_runs_until_sigterm(tmp_path):
    script = (
        "import argparse, sys\n"
        "from entrypoints.cli import fake_ccd as fake_ccd_command\n"
        "from entrypoints.config import Settings\n"
        "parser = argparse.ArgumentParser()\n"
        "fake_ccd_command.add_to(parser.add_subparsers())\n"
        "args = parser.parse_args(sys.argv[1:])\n"
        "sys.exit(args.run(args, Settings.from_environ()))\n"
    )
    environ = {**os.environ, "EXPORT_RESPONSES_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", script, "fake-ccd", "--rate-limit", "1000"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        printed = {}
        while "CCD_SIDAM_PASSWORD" not in printed:
            line = process.stdout.readline()
            assert line, "the command ended before printing its variables"
            name, _, value = line.strip().partition("=")
            printed[name] = value
        gateway = HttpCcdGateway(CcdSettings.from_environ(printed))
        assert gateway.find_latest_case(CASE_TYPE, "2400001/2024") is None
        gateway.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        # What it served, printed at the end for the benchmark: the gateway's lease,
        # login, user details and search, none beyond the rate limit.
        counts = dict(line.strip().partition("=")[::2] for line in process.stdout)
        assert counts == {"FAKE_CCD_CALLS": "4", "FAKE_CCD_RATE_LIMITED": "0"}
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
