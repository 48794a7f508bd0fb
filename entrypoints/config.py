"""Settings, read from the environment when an entry point starts (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

from adapters.ccd.settings import URL_VARIABLES
from adapters.sql.database import check_database_url
from adapters.sql.engine import DEFAULT_LOCK_WAIT_SECONDS, DEFAULT_STATEMENT_TIMEOUT_SECONDS
from adapters.sql.pooling import Pooling, parse_pooling
from application.carry_out_exports import DEFAULT_CLAIM_SECONDS
from application.export_responses import DEFAULT_MAX_ERRORS, DEFAULT_MAX_RESPONSE_IDS
from domain.numbers import parse_number
from domain.retries import parse_delays
from entrypoints.logs import LOG_FORMATS
from entrypoints.tokens import parse_token_entry

MiB = 1024 * 1024
DEFAULT_HEADER_READ_SECONDS = 10.0
DEFAULT_BODY_READ_SECONDS = 30.0
DATA_DIR_NAME = "export-responses"
DAY_SECONDS = 86_400  # the longest wait any *_SECONDS setting may name
DATABASE_FILE = "export-responses.sqlite3"


@frozen
class Setting:
    """One environment variable: what it means, its default, the commands that read it."""

    name: str
    meaning: str
    default: str
    commands: tuple[str, ...]


_ALL = ("migrate", "load", "seed", "serve", "worker", "fake-ccd", "status", "exports", "systems")
_CCD = "none; the worker needs it"
# Every setting any command reads: `--help` lists each command's from here, so a setting
# added here shows up there by itself (a test checks that every variable read is here).
SETTINGS = (
    Setting(
        "DATABASE_URL",
        "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        f"a SQLite file in the data folder, {DATABASE_FILE}",
        _ALL,
    ),
    Setting(
        "EXPORT_RESPONSES_DATA_DIR",
        "the local data folder: the SQLite database, the API token file",
        f"$XDG_DATA_HOME/{DATA_DIR_NAME}, else ~/.local/share/{DATA_DIR_NAME}",
        _ALL,
    ),
    Setting(
        "API_TOKENS",
        "bearer tokens for /api/, comma-separated; sha256:<hex> entries hold digests",
        "a token made once in the data folder (api-token)",
        ("serve",),
    ),
    Setting("API_AUTH", "bearer, or none to serve /api/ without authentication", "bearer", ("serve",)),
    Setting("MAX_RESPONSE_IDS", "most response ids one command may list", str(DEFAULT_MAX_RESPONSE_IDS), ("serve",)),
    Setting("MAX_BODY_BYTES", "largest request body, in bytes", str(MiB), ("serve",)),
    Setting(
        "EXPORT_RETRY_DELAYS",
        "seconds before each retry, comma-separated, or none",
        "the original's eight, n**6 + 15 + jitter",
        ("worker",),
    ),
    Setting("EXPORT_CLAIM_SECONDS", "how long a worker holds an export", str(int(DEFAULT_CLAIM_SECONDS)), ("worker",)),
    *(
        Setting(name, f"base URL of CCD's {name[4:-9].lower().replace('_', ' ')} service", _CCD, ("worker",))
        for name in URL_VARIABLES
    ),
    Setting("CCD_JURISDICTION_ID", "CCD jurisdiction", "EMPLOYMENT", ("worker",)),
    Setting("CCD_MICROSERVICE_ID", "service-to-service login name", _CCD, ("worker",)),
    Setting("CCD_MICROSERVICE_SECRET", "service-to-service TOTP seed (base32)", _CCD, ("worker",)),
    Setting("CCD_SIDAM_USERNAME", "the exporting user", _CCD, ("worker",)),
    Setting("CCD_SIDAM_PASSWORD", "the exporting user's password", _CCD, ("worker",)),
    Setting("CCD_CONNECT_TIMEOUT", "seconds to connect to CCD", "5", ("worker",)),
    Setting("CCD_READ_TIMEOUT", "seconds to wait for each CCD answer", "25", ("worker",)),
    Setting(
        "DATABASE_POOLING", "session (direct, or a pooler in session mode) or transaction (PgBouncer)", "session", _ALL
    ),
    Setting(
        "DATABASE_DIRECT_URL",
        "a PostgreSQL URL past the pooler, for migrations and sessions",
        "none",
        ("migrate", "serve"),
    ),
    Setting("LOCK_WAIT_SECONDS", "longest wait for a database lock, then 503", "5", ("serve", "worker")),
    Setting("STATEMENT_TIMEOUT_SECONDS", "longest PostgreSQL statement, then 503", "20", ("serve", "worker")),
    Setting("HEADER_READ_SECONDS", "time a client has to send a request's headers, then 408", "10", ("serve",)),
    Setting("BODY_READ_SECONDS", "time a client has to send a request's body, then 408", "30", ("serve",)),
    Setting(
        "MAX_ERRORS",
        "most errors one rejection lists, before one that gives the total",
        str(DEFAULT_MAX_ERRORS),
        ("serve",),
    ),
    Setting("LOG_FORMAT", "json (one object a line) or text, for a terminal", "json", ("serve", "worker")),
)


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
    # Bounded waits (README, Configuration): on a database lock, on one statement, and
    # on a client sending its request's headers, then its body.
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS
    statement_timeout_seconds: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS
    header_read_seconds: float = DEFAULT_HEADER_READ_SECONDS
    body_read_seconds: float = DEFAULT_BODY_READ_SECONDS
    # A rejected command lists at most this many problems, then one that gives the total.
    max_errors: int = DEFAULT_MAX_ERRORS
    log_format: str = "json"  # or "text", for a terminal
    # What sits between the service and PostgreSQL (DATABASE_POOLING), and a URL past it
    # for what needs a session of its own (DATABASE_DIRECT_URL; see session_database_url).
    database_pooling: Pooling = Pooling.SESSION
    database_direct_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        data_dir = data_folder(environ)
        default_url = f"sqlite:///{data_dir / DATABASE_FILE}"
        pooling = _pooling(environ.get("DATABASE_POOLING"))
        direct_url = environ.get("DATABASE_DIRECT_URL") or None
        database_url = _database_url("DATABASE_URL", environ.get("DATABASE_URL") or default_url, pooling)
        if (pooling is Pooling.TRANSACTION or direct_url) and not database_url.startswith("postgresql"):
            raise ConfigError("DATABASE_POOLING and DATABASE_DIRECT_URL are for PostgreSQL: DATABASE_URL is not")
        return cls(
            database_url=database_url,
            database_pooling=pooling,
            database_direct_url=direct_url and _database_url("DATABASE_DIRECT_URL", direct_url, Pooling.SESSION),
            data_dir=data_dir,
            max_response_ids=_whole(environ, "MAX_RESPONSE_IDS", DEFAULT_MAX_RESPONSE_IDS),
            max_body_bytes=_whole(environ, "MAX_BODY_BYTES", MiB),
            retry_delays=_delays(environ.get("EXPORT_RETRY_DELAYS")),
            claim_seconds=_whole(environ, "EXPORT_CLAIM_SECONDS", int(DEFAULT_CLAIM_SECONDS)),
            api_tokens=_tokens(environ.get("API_TOKENS")),
            api_auth=_api_auth(environ.get("API_AUTH")),
            lock_wait_seconds=_seconds(environ, "LOCK_WAIT_SECONDS", DEFAULT_LOCK_WAIT_SECONDS),
            statement_timeout_seconds=_seconds(environ, "STATEMENT_TIMEOUT_SECONDS", DEFAULT_STATEMENT_TIMEOUT_SECONDS),
            header_read_seconds=_seconds(environ, "HEADER_READ_SECONDS", DEFAULT_HEADER_READ_SECONDS),
            body_read_seconds=_seconds(environ, "BODY_READ_SECONDS", DEFAULT_BODY_READ_SECONDS),
            max_errors=_whole(environ, "MAX_ERRORS", DEFAULT_MAX_ERRORS),
            log_format=_log_format(environ.get("LOG_FORMAT")),
        )

    @property
    def session_database_url(self) -> str | None:
        """Where a session of our own may be had (LISTEN, advisory locks, SET): None behind
        a transaction pooler without DATABASE_DIRECT_URL, and the service does without."""
        if self.database_direct_url:
            return self.database_direct_url
        return self.database_url if self.database_pooling is Pooling.SESSION else None


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


def _database_url(name: str, text: str, pooling: Pooling) -> str:
    try:
        return check_database_url(name, text, pooling)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _pooling(text: str | None) -> Pooling:
    try:
        return parse_pooling(text)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _tokens(text: str | None) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in (text or "").split(",") if entry.strip())
    for number, entry in enumerate(entries, 1):
        try:
            parse_token_entry(entry)
        except ValueError as error:
            raise ConfigError(f"API_TOKENS: entry {number}: {error}") from None
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


def _number(environ: Mapping[str, str], name: str, default: float, **accepted) -> float:
    """The variable's number, as `domain.numbers.parse_number` takes `accepted`, else `default`."""
    text = environ.get(name)
    if not text:
        return default
    try:
        return parse_number(text, **accepted)
    except ValueError as error:
        raise ConfigError(f"{name} {error}") from None


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    return int(_number(environ, name, default, whole=True))


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    return _number(environ, name, default, most=DAY_SECONDS, unit="seconds")


def _log_format(text: str | None) -> str:
    value = (text or "json").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be json (the default) or text, not {text!r}")
    return value
