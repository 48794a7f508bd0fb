"""HttpCcdGateway against the fake CCD over real HTTP; its settings; the rate limiter."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import attrs
import pytest

from adapters.ccd.fake_server import FakeCcd
from adapters.ccd.http_gateway import HttpCcdGateway, retry_after_seconds
from adapters.ccd.rate_limit import RateLimitedCcdGateway
from adapters.ccd.settings import CcdSettings
from application.ccd import CcdCase, CcdFailure, CcdGateway, CcdRateLimited
from domain.failures import FailureKind
from tests.concurrency import run_together

CASE_TYPE = "ET_EnglandWales"
NUMBER = "2400001/2024"
LOGIN_PATHS = ("/auth/lease", "/idam/loginUser", "/idam/details")


@pytest.fixture
def fake():
    with FakeCcd() as fake:
        yield fake


def gateway_for(fake: FakeCcd, **changes) -> HttpCcdGateway:
    return HttpCcdGateway(attrs.evolve(CcdSettings.from_environ(fake.base_urls), **changes))


@pytest.fixture
def gateway(fake):
    gateway = gateway_for(fake)
    yield gateway
    gateway.close()


def logins(fake: FakeCcd) -> list[int]:
    return [fake.calls[path] for path in LOGIN_PATHS]


def failure_of(gateway: CcdGateway, fake: FakeCcd, number: str = NUMBER) -> str:
    return str(raised(gateway, fake, number))


def raised(gateway: CcdGateway, fake: FakeCcd, number: str = NUMBER) -> CcdFailure:
    """The failure the gateway raised, checked to hold no secret, token nor query."""
    with pytest.raises(CcdFailure) as caught:
        gateway.find_latest_case(CASE_TYPE, number)
    message = str(caught.value)
    tokens = {
        value.removeprefix("Bearer ")
        for request in fake.received
        for name, value in request.headers.items()
        if name in ("authorization", "serviceauthorization")
    }
    for secret in (fake.password, fake.microservice_secret, *tokens, number, "ethosCaseReference", "?", "http"):
        assert secret not in message
    return caught.value


# -- finding cases ---------------------------------------------------------------------


def test_finds_the_newest_case_of_the_number_in_the_v1_shape(fake, gateway):
    fake.add_case(CASE_TYPE, NUMBER, "Leeds")
    newest = fake.add_case(CASE_TYPE, NUMBER, "Manchester")
    fake.add_case(CASE_TYPE, "2400002/2024", "Watford")
    fake.add_case("ET_Scotland", NUMBER, "Glasgow")

    case = gateway.find_latest_case(CASE_TYPE, NUMBER)

    assert case == CcdCase(
        id=newest["id"], case_type_id=CASE_TYPE, data={"ethosCaseReference": NUMBER, "managingOffice": "Manchester"}
    )
    assert isinstance(case.id, int)
    assert case.managing_office == "Manchester"


@pytest.mark.parametrize(("served_id", "expected_id"), [("1700000000000123", 1700000000000123), ("CASE-7", "CASE-7")])
def test_reads_the_v2_shape_and_makes_numeric_ids_numbers(fake, gateway, served_id, expected_id):
    fake.add_case(CASE_TYPE, NUMBER, "Bristol", shape="v2", case_id=served_id)

    case = gateway.find_latest_case(CASE_TYPE, NUMBER)

    assert (case.id, case.case_type_id, case.managing_office) == (expected_id, CASE_TYPE, "Bristol")


def test_a_case_without_a_managing_office_has_none(fake, gateway):
    fake.add_case(CASE_TYPE, NUMBER, shape="v2")
    assert gateway.find_latest_case(CASE_TYPE, NUMBER).managing_office is None


def test_no_case_of_that_number_is_none(fake, gateway):
    fake.add_case(CASE_TYPE, "2400002/2024")
    assert gateway.find_latest_case(CASE_TYPE, NUMBER) is None


@pytest.mark.parametrize("number", ["", None])
def test_no_case_number_is_no_case_and_ccd_is_not_asked(fake, gateway, number):
    fake.add_case(CASE_TYPE, NUMBER)
    assert gateway.find_latest_case(CASE_TYPE, number) is None
    assert list(fake.received) == []


def test_every_data_store_call_carries_the_tokens_and_the_user(fake, gateway):
    gateway.find_latest_case(CASE_TYPE, NUMBER)

    search = fake.received[-1]
    assert search.path == f"/data_store/caseworkers/1001/jurisdictions/EMPLOYMENT/case-types/{CASE_TYPE}/cases"
    assert search.query == {"case.ethosCaseReference": [NUMBER], "page": ["1"], "sortDirection": ["desc"]}
    assert search.headers["serviceauthorization"].startswith("Bearer fake-service-")
    assert search.headers["authorization"].startswith("Bearer fake-user-")
    assert search.headers["content-type"] == "application/json"
    assert search.headers["user-id"] == fake.user_id
    assert search.headers["user-roles"] == ",".join(fake.roles)


# -- logging in ------------------------------------------------------------------------


def test_logs_in_once_for_many_calls_from_many_threads(fake, gateway):
    fake.add_case(CASE_TYPE, NUMBER, "Leeds")
    fake.delay_next(0.2, stage="token")  # a slow login, so that the threads pile up behind it

    def work() -> list[CcdCase | None]:
        return [gateway.find_latest_case(CASE_TYPE, NUMBER) for _ in range(5)]

    found = [case for cases in run_together(8, work) for case in cases]
    assert len(found) == 40 and all(case and case.managing_office == "Leeds" for case in found)
    assert logins(fake) == [1, 1, 1]
    assert fake.calls_to("/data_store") == 40


def test_expired_tokens_lead_to_one_fresh_login_and_the_answer(fake, gateway):
    fake.add_case(CASE_TYPE, NUMBER, "Leeds")
    gateway.find_latest_case(CASE_TYPE, NUMBER)
    fake.expire_tokens()

    assert gateway.find_latest_case(CASE_TYPE, NUMBER).managing_office == "Leeds"
    assert logins(fake) == [2, 2, 2]
    assert fake.calls_to("/data_store") == 3  # answered, denied, answered


@pytest.mark.parametrize("denial", [401, 403])
def test_a_denial_is_retried_once_after_a_fresh_login(fake, gateway, denial):
    fake.fail_next("data", [denial])
    assert gateway.find_latest_case(CASE_TYPE, NUMBER) is None
    assert logins(fake) == [2, 2, 2]


def test_threads_denied_together_share_one_fresh_login(fake, gateway):
    gateway.find_latest_case(CASE_TYPE, NUMBER)
    fake.expire_tokens()
    results = run_together(6, lambda: gateway.find_latest_case(CASE_TYPE, NUMBER))
    assert results == [None] * 6
    assert logins(fake) == [2, 2, 2]


def test_a_second_denial_is_a_transient_failure(fake, gateway):
    fake.fail_next("data", [401, 403])

    failure = raised(gateway, fake)

    # Credentials may be being rotated: worth another attempt, and counted by the circuit.
    assert (str(failure), failure.kind) == (
        "CCD data store answered 403 to the case search after a fresh login",
        FailureKind.TRANSIENT,
    )
    assert fake.calls_to("/data_store") == 2
    assert logins(fake) == [2, 2, 2]


@pytest.mark.parametrize(
    ("statuses", "service", "purpose"),
    [
        ([503], "auth", "service token lease"),
        ([0, 500], "idam", "user login"),
        ([0, 0, 502], "idam", "user details"),
    ],
)
def test_a_failed_login_is_a_failure_and_the_next_call_logs_in_again(fake, gateway, statuses, service, purpose):
    fake.fail_next("token", statuses)

    message = failure_of(gateway, fake)

    assert message == f"CCD {service} answered {statuses[-1]} to the {purpose}"
    assert fake.calls_to("/data_store") == 0
    assert gateway.find_latest_case(CASE_TYPE, NUMBER) is None


def test_a_wrong_password_is_a_failure_that_does_not_show_it(fake):
    gateway = gateway_for(fake, sidam_password="not-the-password")
    failure = raised(gateway, fake)
    assert (str(failure), failure.kind) == ("CCD idam answered 401 to the user login", FailureKind.TRANSIENT)
    assert "not-the-password" not in repr(gateway.settings)


# -- other failures: never retried -----------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_an_error_status_worth_retrying_is_a_transient_failure_without_a_retry(fake, gateway, status):
    fake.fail_next("data", [status])

    failure = raised(gateway, fake)

    assert (str(failure), failure.kind) == (
        f"CCD data store answered {status} to the case search",
        FailureKind.TRANSIENT,
    )
    assert fake.calls_to("/data_store") == 1
    assert logins(fake) == [1, 1, 1]


def test_a_429_is_its_own_transient_failure_carrying_the_retry_after_ccd_sent(fake, gateway):
    gateway.find_latest_case(CASE_TYPE, NUMBER)  # logged in: the limit meets the search
    fake.limit_rate(0.5, burst=1)  # the next call takes the one token, the one after is refused

    gateway.find_latest_case(CASE_TYPE, NUMBER)
    failure = raised(gateway, fake)

    assert isinstance(failure, CcdRateLimited)
    assert (failure.kind, failure.retry_after) == (FailureKind.TRANSIENT, 2.0)  # 1 / 0.5 s, whole seconds
    assert str(failure) == "CCD data store answered 429 (too many requests, Retry-After 2 s) to the case search"


def test_a_429_without_retry_after_waits_the_default(fake, gateway):
    fake.fail_next("data", [429])

    failure = raised(gateway, fake)

    assert isinstance(failure, CcdRateLimited)
    assert failure.retry_after == 1.0
    assert "no Retry-After" in str(failure)
    assert fake.calls_to("/data_store") == 1  # not retried inside the gateway


NOW = datetime(2026, 12, 2, 6, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Wed, 02 Dec 2026 06:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 05:59:00 GMT", 0.0),  # a date gone by: at once
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # RFC 9110: whole seconds only
        ("\u00b2", None),  # a digit to str.isdigit(), not to float(): latin-1 b"\xb2", as requests decodes it
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header, seconds):
    assert retry_after_seconds(header, NOW) == seconds


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_a_refusal_retrying_cannot_fix_is_a_permanent_failure_that_says_what_to_fix(fake, gateway, status):
    fake.fail_next("data", [status])

    failure = raised(gateway, fake)

    assert failure.kind is FailureKind.PERMANENT
    assert str(failure) == (
        f"CCD data store refused the case search with {status}, which retrying cannot fix: check the external "
        "system's case_type_id and CCD_JURISDICTION_ID, and that the exporting user may search them, "
        "then retry the export"
    )
    assert fake.calls_to("/data_store") == 1


def test_a_refused_login_names_the_settings_to_check(fake, gateway):
    fake.fail_next("token", [400])
    failure = raised(gateway, fake)
    assert failure.kind is FailureKind.PERMANENT
    assert "check CCD_MICROSERVICE_ID and CCD_MICROSERVICE_SECRET, then retry the export" in str(failure)


def test_an_answer_that_is_not_a_list_of_cases_breaks_the_api_a_permanent_failure(fake, gateway):
    fake.fail_next("data", [200])  # the fake's injected body is an object
    failure = raised(gateway, fake)
    assert failure.kind is FailureKind.PERMANENT
    assert str(failure) == (
        "CCD data store answered the case search with something other than a list of cases, which breaks CCD's "
        "API: check that CCD_DATA_STORE_BASE_URL is CCD's data store, not a proxy or another service, "
        "then retry the export"
    )


def test_a_slow_answer_is_a_failure_after_the_read_timeout(fake):
    gateway = gateway_for(fake, read_timeout=0.3)
    gateway.find_latest_case(CASE_TYPE, NUMBER)
    fake.delay_next(3, stage="data")

    started = time.monotonic()
    failure = raised(gateway, fake)

    assert time.monotonic() - started < 1.5
    assert (str(failure), failure.kind) == (
        "CCD did not answer within 0.3 s (data store, case search)",
        FailureKind.TRANSIENT,
    )
    assert fake.calls_to("/data_store") == 2


def test_a_slow_login_is_a_failure_after_the_read_timeout(fake):
    gateway = gateway_for(fake, read_timeout=0.3)
    fake.delay_next(3, stage="token")
    assert failure_of(gateway, fake) == "CCD did not answer within 0.3 s (auth, service token lease)"


def test_refused_connections_are_a_failure_until_ccd_listens_again(fake, gateway):
    fake.add_case(CASE_TYPE, NUMBER, "Leeds")
    gateway.find_latest_case(CASE_TYPE, NUMBER)  # leaves a kept-alive connection in the pool
    fake.refuse_connections()

    failure = raised(gateway, fake)
    assert (str(failure), failure.kind) == ("could not connect to CCD data store (case search)", FailureKind.TRANSIENT)

    fake.accept_connections()
    assert gateway.find_latest_case(CASE_TYPE, NUMBER).managing_office == "Leeds"
    assert logins(fake) == [1, 1, 1]


def test_no_ccd_at_all_is_a_failure_at_login(fake):
    gateway = gateway_for(fake, connect_timeout=0.5)
    fake.refuse_connections()
    assert failure_of(gateway, fake) == "could not connect to CCD auth (service token lease)"


# -- the calls told to an observer (the metrics) ----------------------------------------


def test_every_call_is_told_with_its_service_outcome_and_duration(fake):
    calls: list[tuple[str, str, float]] = []
    gateway = HttpCcdGateway(CcdSettings.from_environ(fake.base_urls), observe_call=lambda *call: calls.append(call))
    gateway.find_latest_case(CASE_TYPE, NUMBER)
    fake.fail_next("data", [401, 503])
    failure_of(gateway, fake)
    fake.fail_next("data", [429])
    failure_of(gateway, fake)
    fake.refuse_connections()
    failure_of(gateway, fake)
    gateway.close()
    told = [(service, outcome) for service, outcome, _ in calls]
    assert told == [
        ("auth", "ok"),
        ("idam", "ok"),
        ("idam", "ok"),
        ("data store", "ok"),
        ("data store", "denied"),
        ("auth", "ok"),
        ("idam", "ok"),
        ("idam", "ok"),
        ("data store", "server_error"),
        ("data store", "rate_limited"),
        ("data store", "connection_failed"),
    ]
    assert all(0 <= seconds < 5 for _, _, seconds in calls)


# -- settings --------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{}, {"CCD_JURISDICTION_ID": "EMPLOYMENT", "CCD_SIDAM_USERNAME": "someone"}])
def test_settings_are_none_without_a_ccd_url(environ):
    assert CcdSettings.from_environ(environ) is None


def test_partial_settings_name_every_missing_variable(fake):
    environ = {
        name: value for name, value in fake.base_urls.items() if name not in ("CCD_IDAM_BASE_URL", "CCD_SIDAM_PASSWORD")
    }
    with pytest.raises(ValueError) as caught:
        CcdSettings.from_environ(environ)
    assert str(caught.value) == "CCD is partly configured: set CCD_IDAM_BASE_URL, CCD_SIDAM_PASSWORD as well"


def test_settings_take_defaults_and_timeouts_from_the_environment(fake):
    environ = {**fake.base_urls, "CCD_READ_TIMEOUT": "40", "CCD_JURISDICTION_ID": ""}
    settings = CcdSettings.from_environ(environ)
    assert (settings.jurisdiction_id, settings.connect_timeout, settings.read_timeout) == ("EMPLOYMENT", 5.0, 40.0)
    assert settings.data_store_base_url == f"{fake.url}/data_store"


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("CCD_CONNECT_TIMEOUT", "soon", "CCD_CONNECT_TIMEOUT must be a number of seconds, not 'soon'"),
        ("CCD_READ_TIMEOUT", "0", "CCD_READ_TIMEOUT must be more than 0 seconds, not 0"),
        ("CCD_MICROSERVICE_SECRET", "not base32!", "CCD_MICROSERVICE_SECRET is not a base32 TOTP seed"),
    ],
)
def test_malformed_settings_are_refused_by_name(fake, name, value, error):
    with pytest.raises(ValueError) as caught:
        CcdSettings.from_environ({**fake.base_urls, name: value})
    assert str(caught.value) == error


def test_the_original_16_character_seed_is_accepted():
    settings = CcdSettings.from_environ({**FakeCcd().base_urls, "CCD_MICROSERVICE_SECRET": "AAAAAAAAAAAAAAAC"})
    assert settings.microservice_secret == "AAAAAAAAAAAAAAAC"


def test_settings_repr_hides_the_password_and_the_secret(fake):
    shown = repr(CcdSettings.from_environ(fake.base_urls))
    assert fake.username in shown
    assert fake.password not in shown
    assert fake.microservice_secret not in shown


# -- the rate limiter ------------------------------------------------------------------


class RecordingGateway(CcdGateway):
    """A fake of the port that notes the (fake) time of each call."""

    def __init__(self, now):
        self.now = now
        self.times: list[float] = []
        self.lock = threading.Lock()

    def find_latest_case(self, case_type_id, case_number):
        with self.lock:
            self.times.append(self.now())
        return CcdCase(id=len(self.times), case_type_id=case_type_id, data={"ethosCaseReference": case_number})


class FakeTime:
    def __init__(self):
        self.at = 1000.0

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.at += seconds


def test_the_limiter_spaces_calls_evenly_and_passes_answers_through():
    clock = FakeTime()
    inner = RecordingGateway(clock.now)
    limited = RateLimitedCcdGateway(inner, max_per_second=5, clock=clock.now, sleep=clock.sleep)

    answers = [limited.find_latest_case(CASE_TYPE, f"24{n:05d}/2024") for n in range(10)]

    assert [answer.data["ethosCaseReference"] for answer in answers] == [f"24{n:05d}/2024" for n in range(10)]
    assert inner.times == pytest.approx([1000.0 + 0.2 * n for n in range(10)])


def test_idle_time_earns_the_limiter_no_burst():
    clock = FakeTime()
    inner = RecordingGateway(clock.now)
    limited = RateLimitedCcdGateway(inner, max_per_second=2, clock=clock.now, sleep=clock.sleep)
    limited.find_latest_case(CASE_TYPE, NUMBER)
    clock.at += 60

    for _ in range(3):
        limited.find_latest_case(CASE_TYPE, NUMBER)

    assert inner.times == pytest.approx([1000.0, 1060.0, 1060.5, 1061.0])


def test_the_limiter_gives_concurrent_callers_distinct_slots():
    # The clock stands still and each thread notes how long it was told to sleep: its
    # call's start is then now + that, and the starts must be 1/R apart.
    local = threading.local()

    def sleep(seconds):
        local.slept = seconds

    starts: list[float] = []
    lock = threading.Lock()

    class Inner(CcdGateway):
        def find_latest_case(self, case_type_id, case_number):
            with lock:
                starts.append(500.0 + getattr(local, "slept", 0.0))
            local.slept = 0.0

    limited = RateLimitedCcdGateway(Inner(), max_per_second=10, clock=lambda: 500.0, sleep=sleep)
    run_together(8, lambda: [limited.find_latest_case(CASE_TYPE, NUMBER) for _ in range(5)])
    assert sorted(starts) == pytest.approx([500.0 + 0.1 * n for n in range(40)])


@pytest.mark.parametrize("rate", [0, -1, float("inf")])
def test_the_limiter_needs_a_positive_rate(rate):
    with pytest.raises(ValueError):
        RateLimitedCcdGateway(RecordingGateway(time.monotonic), max_per_second=rate)


# -- the environment ---------------------------------------------------------------------


def test_proxies_named_in_the_environment_are_used_and_no_proxy_is_honoured(fake, monkeypatch):
    """Read once when the gateway starts (requests would read them on every call)."""
    fake.add_case(CASE_TYPE, NUMBER, "Leeds")
    proxy = fake.base_urls["CCD_AUTH_BASE_URL"].split("/auth")[0]  # the fake answers absolute-form requests
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "")
    unreachable = {
        name: url.replace("127.0.0.1", "ccd.invalid").replace(f":{fake.port}", "")
        for name, url in fake.base_urls.items()
    }
    through_proxy = HttpCcdGateway(CcdSettings.from_environ(unreachable))
    try:
        assert through_proxy.find_latest_case(CASE_TYPE, NUMBER).managing_office == "Leeds"
    finally:
        through_proxy.close()
    monkeypatch.setenv("no_proxy", "ccd.invalid")
    bypassing = HttpCcdGateway(CcdSettings.from_environ(unreachable))
    try:
        assert "CCD auth" in failure_of(bypassing, fake)
    finally:
        bypassing.close()
