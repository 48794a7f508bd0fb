"""GET /dashboard: the operators' page, one HTML file with one script and one style sheet.

The files hold no data, so they are public: the page asks for the bearer token and
calls the JSON API with it (see static/dashboard.js). They ship inside the package
(package data in pyproject.toml) and are read once, when the app is made. The Content-
Security-Policy lets the page run only its own script and style and talk only to this
origin: an error message from CCD that slipped past textContent could still run nothing.
"""

from __future__ import annotations

from importlib import resources

import falcon

DASHBOARD_PATH = "/dashboard"
SCRIPT_PATH = "/dashboard/dashboard.js"
STYLE_PATH = "/dashboard/dashboard.css"
HTML, SCRIPT, STYLE = "text/html; charset=utf-8", "text/javascript; charset=utf-8", "text/css; charset=utf-8"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
# path: (file in static/, content type)
ASSETS = {
    DASHBOARD_PATH: ("dashboard.html", HTML),
    SCRIPT_PATH: ("dashboard.js", SCRIPT),
    STYLE_PATH: ("dashboard.css", STYLE),
}


class StaticAsset:
    """One file of the dashboard, read once and served as it is."""

    public = True

    def __init__(self, data: bytes, content_type: str):
        self.data = data
        self.content_type = content_type

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = self.content_type
        # X-Content-Type-Options: nosniff and the other security headers come with every reply (middleware).
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.data = self.data


def dashboard_routes() -> dict[str, StaticAsset]:
    """The dashboard's routes, their files read from the package now."""
    static = resources.files("entrypoints.http") / "static"
    return {path: StaticAsset((static / name).read_bytes(), kind) for path, (name, kind) in ASSETS.items()}
