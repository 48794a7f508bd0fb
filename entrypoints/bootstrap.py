"""The composition root: builds every service an entry point needs from Settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from attrs import frozen

from adapters.clock import SystemClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.export_views import InMemoryExportReader
from adapters.memory.system_views import InMemorySystemReader
from adapters.sql.engine import create_engine
from adapters.sql.export_views import SqlAlchemyExportReader
from adapters.sql.health import SqlAlchemyHealth
from adapters.sql.system_views import SqlAlchemySystemReader
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from application.export_status import ExportReader
from application.operations import OperationsDeps
from application.ports import Received
from application.system_status import SystemReader
from domain.commands import ExportResponses
from domain.results import CommandResult
from entrypoints.config import Settings


@frozen
class Services:
    settings: Settings
    export_responses: Callable[[ExportResponses, Received | None], CommandResult]
    database_answers: Callable[[], bool]
    database_accepts_writes: Callable[[], bool]
    engine: sa.Engine | None = None
    export_reader: ExportReader | None = None
    operations: OperationsDeps | None = None
    system_reader: SystemReader | None = None


MIGRATION_STATEMENT_SECONDS = 3600.0


def new_uuid() -> str:
    return str(uuid.uuid4())


def database_engine(settings: Settings, **options) -> sa.Engine:
    """The engine on DATABASE_URL, connecting as DATABASE_POOLING says, with its bounded waits."""
    return create_engine(
        settings.database_url,
        pooling=settings.database_pooling,
        lock_wait_seconds=settings.lock_wait_seconds,
        statement_timeout_seconds=settings.statement_timeout_seconds,
        **options,
    )


def schema_engine(settings: Settings) -> sa.Engine:
    """The engine for migrations: past any pooler when DATABASE_DIRECT_URL is set.

    A migration runs in one transaction, so it works through a transaction pooler too;
    direct, it is not cut short by the pooler's query timeouts, and DDL that cannot
    run in a transaction (CREATE INDEX CONCURRENTLY) or a session lock can be added.
    """
    # A migration gives up on a lock as any request does (it must not queue the Rails
    # side behind it), but may take long: building an index on a large table.
    waits = {"lock_wait_seconds": settings.lock_wait_seconds, "statement_timeout_seconds": MIGRATION_STATEMENT_SECONDS}
    if settings.database_direct_url:
        return create_engine(settings.database_direct_url, **waits)
    return create_engine(settings.database_url, pooling=settings.database_pooling, **waits)


def bootstrap(settings: Settings) -> Services:
    engine = database_engine(settings)
    health = SqlAlchemyHealth(engine)
    return _services(
        settings,
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        reading=lambda: SqlAlchemyUnitOfWork(engine, read_only=True),
        database_answers=health.answers,
        database_accepts_writes=health.accepts_writes,
        export_reader=SqlAlchemyExportReader(engine),
        system_reader=SqlAlchemySystemReader(engine),
        engine=engine,
    )


def in_memory_services(store: InMemoryStore, settings: Settings) -> Services:
    """The same service on an in-memory store: for fast tests and for embedding."""
    return _services(
        settings,
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        database_answers=lambda: True,
        database_accepts_writes=lambda: True,
        export_reader=InMemoryExportReader(store),
        system_reader=InMemorySystemReader(store),
    )


def _services(
    settings: Settings,
    unit_of_work,
    database_answers,
    database_accepts_writes,
    export_reader,
    system_reader,
    engine=None,
    reading=None,
) -> Services:
    deps = ExportResponsesDeps(
        unit_of_work=unit_of_work,
        reading=reading,
        clock=SystemClock(),
        new_uuid=new_uuid,
        max_response_ids=settings.max_response_ids,
        max_errors=settings.max_errors,
    )
    return Services(
        settings=settings,
        export_responses=lambda command, received=None: export_responses(command, deps, received),
        database_answers=database_answers,
        database_accepts_writes=database_accepts_writes,
        engine=engine,
        export_reader=export_reader,
        operations=OperationsDeps(unit_of_work=unit_of_work, clock=deps.clock, new_uuid=new_uuid),
        system_reader=system_reader,
    )
