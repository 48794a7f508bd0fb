"""GET /dashboard: public files under a strict policy, that write data only as text."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
from falcon import testing

from adapters.memory import InMemoryStore
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http import dashboard
from entrypoints.http.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC = REPO_ROOT / "entrypoints" / "http" / "static"
SETTINGS = Settings("sqlite://", Path("var"), api_tokens=("ops=secret-token-for-the-dashboard",))


@pytest.fixture
def anonymous() -> testing.TestClient:
    return testing.TestClient(create_app(bootstrap(SETTINGS, store=InMemoryStore())))


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/dashboard.js", "text/javascript; charset=utf-8"),
        ("/dashboard/dashboard.css", "text/css; charset=utf-8"),
    ],
)
def test_each_file_is_public_typed_and_under_the_policy(anonymous, path, content_type):
    reply = anonymous.simulate_get(path)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == content_type
    name = dashboard.ASSETS[path][0]
    assert reply.content == (STATIC / name).read_bytes()
    policy = dict(part.split(" ", 1) for part in reply.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in reply.headers


def test_only_the_three_files_are_served_and_only_to_get(anonymous):
    assert anonymous.simulate_get("/dashboard/other.js").status_code == 404
    assert anonymous.simulate_get("/dashboard/../pyproject.toml").status_code == 404
    reply = anonymous.simulate_post("/dashboard")
    assert reply.status_code == 405 and reply.json["errors"][0]["code"] == "method_not_allowed"


def test_the_page_runs_no_inline_code_and_loads_nothing_from_elsewhere():
    html = (STATIC / "dashboard.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script src="/dashboard/dashboard.js" defer>']
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S) == [""]  # and it has no body
    assert re.findall(r"\son\w+\s*=", html) == [] and "style=" not in html and "<style" not in html
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(references) == ["/dashboard/dashboard.css", "/dashboard/dashboard.js"]


def test_the_script_writes_text_only_and_keeps_the_token_out_of_cookies():
    script = (STATIC / "dashboard.js").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    assert "document.cookie" not in code and "localStorage" not in code
    assert "sessionStorage" in code and "Authorization: `Bearer ${token}`" in code
    assert "http://" not in code and "https://" not in code  # calls only its own origin
    assert "AbortController" in code  # every call has a deadline


def test_the_wheel_ships_every_file_of_the_page():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["entrypoints.http"]
    shipped = {
        path.name for path in STATIC.iterdir() if any(fnmatch.fnmatch(f"static/{path.name}", p) for p in patterns)
    }
    assert shipped == {name for name, _type in dashboard.ASSETS.values()} == {path.name for path in STATIC.iterdir()}
