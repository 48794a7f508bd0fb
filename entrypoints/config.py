"""Settings, read from the environment when an entry point starts (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from attrs import frozen
from sqlalchemy.engine import make_url

from adapters.sql.engine import DEFAULT_LOCK_WAIT_SECONDS, DEFAULT_STATEMENT_TIMEOUT_SECONDS
from adapters.sql.pooling import Pooling, connect_arguments, parse_pooling
from application.carry_out_exports import DEFAULT_CLAIM_SECONDS
from application.export_responses import DEFAULT_MAX_ERRORS, DEFAULT_MAX_RESPONSE_IDS
from domain.retries import parse_delays
from entrypoints.logs import LOG_FORMATS
from entrypoints.tokens import parse_token_entry

MiB = 1024 * 1024
DEFAULT_HEADER_READ_SECONDS = 10.0
DEFAULT_BODY_READ_SECONDS = 30.0


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
        data_dir = Path(environ.get("EXPORT_RESPONSES_DATA_DIR") or "var").resolve()
        default_url = f"sqlite:///{data_dir / 'export-responses.sqlite3'}"
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
            max_response_ids=_positive_int(environ, "MAX_RESPONSE_IDS", DEFAULT_MAX_RESPONSE_IDS),
            max_body_bytes=_positive_int(environ, "MAX_BODY_BYTES", MiB),
            retry_delays=_delays(environ.get("EXPORT_RETRY_DELAYS")),
            claim_seconds=_positive_int(environ, "EXPORT_CLAIM_SECONDS", int(DEFAULT_CLAIM_SECONDS)),
            api_tokens=_tokens(environ.get("API_TOKENS")),
            api_auth=_api_auth(environ.get("API_AUTH")),
            lock_wait_seconds=_positive_seconds(environ, "LOCK_WAIT_SECONDS", DEFAULT_LOCK_WAIT_SECONDS),
            statement_timeout_seconds=_positive_seconds(
                environ, "STATEMENT_TIMEOUT_SECONDS", DEFAULT_STATEMENT_TIMEOUT_SECONDS
            ),
            header_read_seconds=_positive_seconds(environ, "HEADER_READ_SECONDS", DEFAULT_HEADER_READ_SECONDS),
            body_read_seconds=_positive_seconds(environ, "BODY_READ_SECONDS", DEFAULT_BODY_READ_SECONDS),
            max_errors=_positive_int(environ, "MAX_ERRORS", DEFAULT_MAX_ERRORS),
            log_format=_log_format(environ.get("LOG_FORMAT")),
        )

    @property
    def session_database_url(self) -> str | None:
        """Where a session of our own may be had (LISTEN, advisory locks, SET): None behind
        a transaction pooler without DATABASE_DIRECT_URL, and the service does without."""
        if self.database_direct_url:
            return self.database_direct_url
        return self.database_url if self.database_pooling is Pooling.SESSION else None


def _database_url(name: str, text: str, pooling: Pooling) -> str:
    try:
        url = make_url(text)
        backend = url.get_backend_name()
    except sa.exc.ArgumentError:
        backend = None
    if backend not in ("postgresql", "sqlite"):
        raise ConfigError(f"{name} must be a PostgreSQL (postgresql+psycopg://...) or SQLite (sqlite:///...) URL")
    if backend == "postgresql":
        try:
            connect_arguments(url, pooling)
        except ValueError as error:
            raise ConfigError(str(error).replace("DATABASE_URL", name, 1)) from None
    return text


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


def _positive_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value < 86_400:
        raise ConfigError(f"{name} must be more than 0 and less than a day of seconds, not {text!r}")
    return value


def _log_format(text: str | None) -> str:
    value = (text or "json").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be json (the default) or text, not {text!r}")
    return value
