"""Settings, read from the environment when an entry point starts (never at import)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from attrs import frozen
from sqlalchemy.engine import make_url

from adapters.ccd.settings import URL_VARIABLES
from application.carry_out_exports import DEFAULT_CLAIM_SECONDS
from application.export_responses import DEFAULT_MAX_RESPONSE_IDS
from domain.retries import parse_delays

MiB = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
DATA_DIR_NAME = "export-responses"
DATABASE_FILE = "export-responses.sqlite3"


@frozen
class Setting:
    """One environment variable: what it means, its default, the commands that read it."""

    name: str
    meaning: str
    default: str
    commands: tuple[str, ...]


_ALL = ("migrate", "load", "seed", "serve", "worker", "fake-ccd", "status")
_CCD = "none; the worker needs it"
# Every setting any command reads: `--help` lists each command's from here, so a setting
# added here shows up there by itself (a test checks that every variable read is here).
SETTINGS = (
    Setting("DATABASE_URL", "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
            f"a SQLite file in the data folder, {DATABASE_FILE}", _ALL),
    Setting("EXPORT_RESPONSES_DATA_DIR", "the local data folder: the SQLite database, the API token file",
            f"$XDG_DATA_HOME/{DATA_DIR_NAME}, else ~/.local/share/{DATA_DIR_NAME}", _ALL),
    Setting("API_TOKENS", "bearer tokens for /api/, comma-separated; sha256:<hex> entries hold digests",
            "a token made once in the data folder (api-token)", ("serve",)),
    Setting("API_AUTH", "bearer, or none to serve /api/ without authentication", "bearer", ("serve",)),
    Setting("MAX_RESPONSE_IDS", "most response ids one command may list", str(DEFAULT_MAX_RESPONSE_IDS), ("serve",)),
    Setting("MAX_BODY_BYTES", "largest request body, in bytes", str(MiB), ("serve",)),
    Setting("EXPORT_RETRY_DELAYS", "seconds before each retry, comma-separated, or none",
            "the original's eight, n**6 + 15 + jitter", ("worker",)),
    Setting("EXPORT_CLAIM_SECONDS", "how long a worker holds an export", str(int(DEFAULT_CLAIM_SECONDS)),
            ("worker",)),
    *(Setting(name, f"base URL of CCD's {name[4:-9].lower().replace('_', ' ')} service", _CCD, ("worker",))
      for name in URL_VARIABLES),
    Setting("CCD_JURISDICTION_ID", "CCD jurisdiction", "EMPLOYMENT", ("worker",)),
    Setting("CCD_MICROSERVICE_ID", "service-to-service login name", _CCD, ("worker",)),
    Setting("CCD_MICROSERVICE_SECRET", "service-to-service TOTP seed (base32)", _CCD, ("worker",)),
    Setting("CCD_SIDAM_USERNAME", "the exporting user", _CCD, ("worker",)),
    Setting("CCD_SIDAM_PASSWORD", "the exporting user's password", _CCD, ("worker",)),
    Setting("CCD_CONNECT_TIMEOUT", "seconds to connect to CCD", "5", ("worker",)),
    Setting("CCD_READ_TIMEOUT", "seconds to wait for each CCD answer", "25", ("worker",)),
)  # fmt: skip


def settings_read_by(command: str) -> list[Setting]:
    return [setting for setting in SETTINGS if command in setting.commands]


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


@frozen
class Settings:
    database_url: str
    data_dir: Path
    max_response_ids: int = DEFAULT_MAX_RESPONSE_IDS
    max_body_bytes: int = MiB
    retry_delays: tuple[float, ...] | None = None  # None: the original's eight, with jitter
    claim_seconds: float = DEFAULT_CLAIM_SECONDS
    # Bearer tokens for /api/: plain tokens, or `sha256:<hex>` digests of them.
    api_tokens: tuple[str, ...] = ()
    api_auth: bool = True  # False only on purpose: API_AUTH=none or `serve --no-auth`

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        data_dir = data_folder(environ)
        default_url = f"sqlite:///{data_dir / DATABASE_FILE}"
        return cls(
            database_url=_database_url(environ.get("DATABASE_URL") or default_url),
            data_dir=data_dir,
            max_response_ids=_positive_int(environ, "MAX_RESPONSE_IDS", DEFAULT_MAX_RESPONSE_IDS),
            max_body_bytes=_positive_int(environ, "MAX_BODY_BYTES", MiB),
            retry_delays=_delays(environ.get("EXPORT_RETRY_DELAYS")),
            claim_seconds=_positive_int(environ, "EXPORT_CLAIM_SECONDS", int(DEFAULT_CLAIM_SECONDS)),
            api_tokens=_tokens(environ.get("API_TOKENS")),
            api_auth=_api_auth(environ.get("API_AUTH")),
        )


def data_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """The same absolute folder from any directory: EXPORT_RESPONSES_DATA_DIR, else the
    XDG data folder's export-responses (~/.local/share/export-responses)."""
    chosen = environ.get("EXPORT_RESPONSES_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser().resolve()
    xdg = environ.get("XDG_DATA_HOME")
    # The XDG specification: a relative XDG_DATA_HOME is invalid and is ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(environ) / ".local" / "share"
    return base / DATA_DIR_NAME


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _database_url(text: str) -> str:
    try:
        url = make_url(text)
    except sa.exc.ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError("DATABASE_URL must be a PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST/DB) "
                          "or SQLite (sqlite:///PATH) URL")  # fmt: skip
    try:
        (url.host or "").encode("idna")
    except UnicodeError:
        # Checked here: the driver would fail on it with a traceback from the resolver.
        raise ConfigError(f"DATABASE_URL: {url.host!r} is not a host name "
                          f"(postgresql+psycopg://USER:PASSWORD@HOST/DB)") from None  # fmt: skip
    return text


def _tokens(text: str | None) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in (text or "").split(",") if entry.strip())
    for entry in entries:
        if entry.lower().startswith("sha256:") and not _SHA256.fullmatch(entry[7:]):
            raise ConfigError("API_TOKENS: a sha256: entry must be followed by 64 hexadecimal digits")
    return entries


def _api_auth(text: str | None) -> bool:
    value = (text or "bearer").strip().lower()
    if value not in ("bearer", "none"):
        raise ConfigError(f"API_AUTH must be bearer (the default) or none, not {text!r}")
    return value == "bearer"


def _delays(text: str | None) -> tuple[float, ...] | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_delays(text)
    except ValueError:
        raise ConfigError(
            f"EXPORT_RETRY_DELAYS must be seconds separated by commas (e.g. 15,60,600) or none, not {text!r}"
        ) from None


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value
