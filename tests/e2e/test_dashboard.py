"""The operators' dashboard in a real headless Chromium, against a real server.

The page loads, asks for the token, shows a failed export with its error (as text, not
markup: the error is CCD's), and a click on Retry queues it again, in the database too.
On SQLite and PostgreSQL (the API's reads and actions are the ones every client uses).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as visible
from selenium.webdriver.support.ui import WebDriverWait

from adapters.sql.tables import export_events, exports
from domain.operations import RETRIED_MESSAGE
from tests.auth import TEST_TOKEN
from tests.builders import add_external_system
from tests.e2e.browser import console_problems, headless_chromium
from tests.e2e.conftest import REQUEST_TIMEOUT, module_database, running_server

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 20  # every wait of the browser is bounded by this
TOKEN_KEY = "export-responses.token"
OPERATOR = "ops"  # the name of the token the page is given
# What a hostile or broken CCD might answer: shown as text, it runs nothing.
HOSTILE_ERROR = 'CCD said 422 <img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def e2e_database_url(request, tmp_path_factory) -> str:
    # The browser adds nothing the HTTP tests do not check through PgBouncer: two kinds suffice.
    return module_database(request, tmp_path_factory)


@pytest.fixture(scope="module")
def live_server(e2e_database_url, tmp_path_factory):
    # A named token: what the page does is recorded as done by that operator.
    folder = tmp_path_factory.mktemp("e2e-server")
    with running_server(e2e_database_url, folder, API_TOKENS=f"{OPERATOR}={TEST_TOKEN}") as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as chrome:
        yield chrome


def wait(browser):
    return WebDriverWait(browser, WAIT_SECONDS)


def seed_failed_export(engine, system_id: int, response_id: int, command_uuid: str | None) -> int:
    """A failed export as the worker leaves one after its last erroring attempt; its id."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        export_id = connection.execute(
            sa.insert(exports)
            .values(
                resource_type="Response",
                resource_id=response_id,
                external_system_id=system_id,
                state="failed",
                percent_complete=0,
                message="Response failed to export",
                external_data={"error": {"message": HOSTILE_ERROR}},
                command_uuid=command_uuid,
                attempts=3,
                created_at=now - timedelta(hours=2),
                updated_at=now,
            )
            .returning(exports.c.id)
        ).scalar_one()
        connection.execute(
            sa.insert(export_events),
            [
                {
                    "export_id": export_id,
                    "state": state,
                    "uuid": str(uuid.uuid4()),
                    "data": data,
                    "percent_complete": percent,
                    "message": message,
                    "created_at": now - timedelta(minutes=minutes),
                    "updated_at": now - timedelta(minutes=minutes),
                }
                for state, percent, message, data, minutes in [
                    ("queued", 0, "Queued for export", {"external_data": {}}, 120),
                    (
                        "erroring",
                        None,
                        "Response erroring",
                        {"external_data": {"error": {"message": HOSTILE_ERROR}}},
                        1,
                    ),
                    ("failed", 0, "Response failed to export", {"external_data": {}}, 0),
                ]
            ],
        )
    return export_id


def row(browser, section: str, export_id: int):
    return browser.find_element(By.CSS_SELECTOR, f'#{section}-rows tr[data-export-id="{export_id}"]')


def present(browser, selector: str) -> bool:
    return bool(browser.find_elements(By.CSS_SELECTOR, selector))


def enter_token(browser, token: str) -> None:
    field = wait(browser).until(visible.visibility_of_element_located((By.ID, "token")))
    field.send_keys(token)
    browser.find_element(By.ID, "token-submit").click()


def test_the_page_is_served_with_a_strict_policy_and_no_cookie(live_server):
    reply = requests.get(live_server.url("/dashboard"), timeout=REQUEST_TIMEOUT)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in reply.headers
    assert '<script src="/dashboard/dashboard.js" defer></script>' in reply.text
    script = requests.get(live_server.url("/dashboard/dashboard.js"), timeout=REQUEST_TIMEOUT)
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_a_failed_export_is_shown_with_its_error_and_retried_by_a_click(live_server, server_engine, new_id, browser):
    system_id, command_uuid = new_id(), str(uuid.uuid4())
    with server_engine.begin() as connection:
        add_external_system(connection, system_id)
    export_id = seed_failed_export(server_engine, system_id, new_id(), command_uuid)
    rails_export_id = seed_failed_export(server_engine, system_id, new_id(), None)

    browser.get(live_server.url("/dashboard"))
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    enter_token(browser, TEST_TOKEN)
    failed_row = f'#failed-rows tr[data-export-id="{export_id}"]'
    wait(browser).until(visible.presence_of_element_located((By.CSS_SELECTOR, failed_row)))

    # The error is CCD's text, shown as it is: no element was made of it, nothing of it ran.
    assert row(browser, "failed", export_id).find_element(By.CSS_SELECTOR, ".last-error").text == HOSTILE_ERROR
    assert not present(browser, "#failed-rows img, #failed-rows script")
    assert browser.title != "pwned"
    # The token is in this tab's session storage, never in a cookie.
    assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") == TEST_TOKEN
    assert browser.get_cookies() == []
    # The system's figures, from GET /api/v2/external_systems.
    system_row = f'#systems-rows tr[data-system-id="{system_id}"]'
    wait(browser).until(visible.presence_of_element_located((By.CSS_SELECTOR, system_row)))
    cells = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, f"{system_row} td")]
    assert cells[:3] == [str(system_id), f"CCD system {system_id}", f"ccd_system_{system_id}"]
    assert cells[9] == "2"  # failed: this service's export and the Rails side's
    # The Rails side's export is shown, and offers no action.
    rails_row = row(browser, "failed", rails_export_id)
    assert rails_row.find_elements(By.CSS_SELECTOR, 'button[data-action="retry"]') == []
    assert "Rails side's" in rails_row.text

    # Its timeline: every event in order.
    row(browser, "failed", export_id).find_element(By.CSS_SELECTOR, 'button[data-action="events"]').click()
    wait(browser).until(visible.text_to_be_present_in_element((By.ID, "timeline-title"), f"Export {export_id}"))
    states = [
        item.get_attribute("data-state") for item in browser.find_elements(By.CSS_SELECTOR, "#timeline-events li")
    ]
    assert states == ["queued", "erroring", "failed"]

    row(browser, "failed", export_id).find_element(By.CSS_SELECTOR, 'button[data-action="retry"]').click()
    wait(browser).until(visible.text_to_be_present_in_element((By.ID, "notice"), f"Export {export_id} is queued again"))
    wait(browser).until(visible.invisibility_of_element_located((By.CSS_SELECTOR, failed_row)))
    with server_engine.connect() as connection:
        retried = connection.execute(sa.select(exports).where(exports.c.id == export_id)).one()
        last_event = connection.execute(
            sa.select(export_events).where(export_events.c.export_id == export_id).order_by(export_events.c.id.desc())
        ).first()
    assert retried.state == "queued"
    assert retried.next_attempt_at is not None
    # Who did it: the token's name.
    assert (last_event.state, last_event.message) == ("queued", RETRIED_MESSAGE)
    assert last_event.data["export_responses"] == {"action": "retry", "by": OPERATOR}
    # The timeline shown follows it.
    wait(browser).until(visible.text_to_be_present_in_element((By.ID, "timeline-title"), f"Export {export_id}: queued"))
    last_shown = browser.find_elements(By.CSS_SELECTOR, "#timeline-events li")[-1]
    assert last_shown.get_attribute("data-state") == "queued" and f"{RETRIED_MESSAGE} by {OPERATOR}" in last_shown.text
    assert console_problems(browser) == []


def test_a_token_the_service_refuses_asks_for_the_token_again(live_server, browser):
    browser.get(live_server.url("/dashboard"))
    browser.execute_script(f"sessionStorage.setItem('{TOKEN_KEY}', 'not-a-token-of-this-service')")
    browser.refresh()
    wait(browser).until(visible.visibility_of_element_located((By.ID, "token-panel")))
    assert "did not accept the token" in browser.find_element(By.ID, "token-reason").text
    assert not browser.find_element(By.ID, "board").is_displayed()
    assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None
    enter_token(browser, TEST_TOKEN)
    wait(browser).until(visible.visibility_of_element_located((By.ID, "systems-rows")))
    wait(browser).until(visible.text_to_be_present_in_element((By.ID, "refreshed"), "Refreshed at"))
    assert console_problems(browser) == []
