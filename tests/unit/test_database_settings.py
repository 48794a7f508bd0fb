"""DATABASE_URL's parameters, DATABASE_POOLING and DATABASE_DIRECT_URL; which database errors are outages."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.engine import create_engine
from adapters.sql.errors import translate
from adapters.sql.pooling import Pooling
from application.ports import StoreUnavailable
from entrypoints.bootstrap import database_engine, schema_engine
from entrypoints.config import ConfigError, Settings

PG = "postgresql+psycopg://app@db.example/export_responses"


def settings(**environ) -> Settings:
    return Settings.from_environ({"EXPORT_RESPONSES_DATA_DIR": "/tmp/unused", **environ})


def _kwargs(engine: sa.Engine) -> dict:
    """The keyword arguments psycopg.connect() is given, caught before any connection."""
    captured = {}
    sa.event.listen(engine, "do_connect", lambda dialect, record, cargs, cparams: captured.update(cparams) or _refuse())
    with pytest.raises(sa.exc.DBAPIError, match="captured"):
        engine.connect()
    return captured


def _refuse():
    raise psycopg.OperationalError("captured")


@pytest.mark.parametrize(
    "query, expected",
    [("", 5), ("?prepare_threshold=None", None), ("?prepare_threshold=0", 0), ("?prepare_threshold=12", 12)],
)
def test_prepare_threshold_reaches_psycopg_as_a_number_or_none(query, expected):
    engine = create_engine(PG + query)
    arguments = _kwargs(engine)
    assert arguments["prepare_threshold"] == expected
    assert "prepare_threshold" not in engine.url.query


def test_several_hosts_for_failover_are_taken():
    url = "postgresql+psycopg://app@/export_responses?host=db-a.example:5432&host=db-b.example:5432"
    assert settings(DATABASE_URL=url).database_url == url


def test_transaction_pooling_turns_prepared_statements_off():
    engine = create_engine(PG, pooling=Pooling.TRANSACTION)
    assert _kwargs(engine)["prepare_threshold"] is None


@pytest.mark.parametrize(
    "environ, message",
    [
        (
            {"DATABASE_URL": PG + "?prepare_threshold=many"},
            "DATABASE_URL: ?prepare_threshold= must be a whole number or None, not 'many'",
        ),
        ({"DATABASE_URL": PG + "?prepare_threshold=-1"}, "must be 0 or more"),
        (
            {"DATABASE_URL": PG + "?prepare_threshold=5", "DATABASE_POOLING": "transaction"},
            "must be None (or left out) with DATABASE_POOLING=transaction",
        ),
        (
            {"DATABASE_URL": PG + "?options=-c%20statement_timeout%3D5s", "DATABASE_POOLING": "transaction"},
            "PgBouncer does not pass startup options",
        ),
        ({"DATABASE_URL": PG + "?autocommit=true"}, "?autocommit= is not supported"),
        ({"DATABASE_URL": PG + "?no_such_option=1"}, 'DATABASE_URL: invalid connection option "no_such_option"'),
        ({"DATABASE_URL": PG + "?connect_timeout=1&connect_timeout=2"}, "?connect_timeout= is given more than once"),
        (
            {"DATABASE_URL": PG, "DATABASE_POOLING": "statement"},
            "DATABASE_POOLING must be session (the default) or transaction, not 'statement'",
        ),
        ({"DATABASE_URL": "sqlite:///x.sqlite3", "DATABASE_POOLING": "transaction"}, "are for PostgreSQL"),
        ({"DATABASE_URL": PG, "DATABASE_DIRECT_URL": "mysql://db"}, "DATABASE_DIRECT_URL must be a PostgreSQL"),
        (
            {"DATABASE_URL": PG, "DATABASE_DIRECT_URL": PG + "?prepare_threshold=x"},
            "DATABASE_DIRECT_URL: ?prepare_threshold=",
        ),
    ],
)
def test_a_database_setting_that_cannot_work_is_refused_in_one_line(environ, message):
    with pytest.raises(ConfigError) as refused:
        settings(**environ)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_session_is_had_direct_or_not_at_all_behind_a_transaction_pooler():
    assert settings(DATABASE_URL=PG).session_database_url == PG
    pooled = settings(DATABASE_URL=PG, DATABASE_POOLING="transaction")
    assert (pooled.database_pooling, pooled.session_database_url) == (Pooling.TRANSACTION, None)
    direct = "postgresql+psycopg://app@db-primary.example/export_responses"
    assert (
        settings(DATABASE_URL=PG, DATABASE_POOLING="transaction", DATABASE_DIRECT_URL=direct).session_database_url
        == direct
    )


def wrapped(error: Exception, invalidated: bool = False) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError.instance("SELECT 1", {}, error, psycopg.Error, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: the server was not reached
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.TooManyConnections("too many clients already"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
)
def test_an_outage_is_store_unavailable(error):
    assert isinstance(translate(wrapped(error)), StoreUnavailable)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.ProtocolViolation("bind message supplies 4 parameters, but prepared statement requires 14"),
        psycopg.errors.InvalidSqlStatementName('prepared statement "_pg3_4" does not exist'),
        psycopg.errors.DuplicatePreparedStatement('prepared statement "_pg3_0" already exists'),
        psycopg.errors.UndefinedColumn("column does not exist"),
    ],
)
def test_a_driver_or_protocol_error_that_is_no_outage_stays_a_fault(error):
    assert translate(wrapped(error)) is None


def test_any_error_that_took_the_connection_with_it_is_an_outage():
    assert isinstance(
        translate(wrapped(psycopg.errors.ProtocolViolation("server closed"), invalidated=True)), StoreUnavailable
    )


def test_migrations_go_past_the_pooler_when_a_direct_url_is_set():
    direct = "postgresql+psycopg://app@db-primary.example/export_responses"
    pooled = settings(DATABASE_URL=PG, DATABASE_POOLING="transaction", DATABASE_DIRECT_URL=direct)
    assert schema_engine(pooled).url.host == "db-primary.example"
    assert _kwargs(schema_engine(pooled))["prepare_threshold"] == 5
    assert schema_engine(settings(DATABASE_URL=PG, DATABASE_POOLING="transaction")).url.host == "db.example"
    assert _kwargs(database_engine(pooled))["prepare_threshold"] is None
