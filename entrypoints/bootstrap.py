"""The composition root: builds every service an entry point needs from Settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from attrs import frozen

from adapters.clock import SystemClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.export_views import InMemoryExportReader
from adapters.sql.engine import create_engine
from adapters.sql.export_views import SqlAlchemyExportReader
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from application.export_status import ExportReader
from application.ports import Received
from domain.commands import ExportResponses
from domain.results import CommandResult
from entrypoints.config import Settings


@frozen
class Services:
    settings: Settings
    export_responses: Callable[[ExportResponses, Received | None], CommandResult]
    database_answers: Callable[[], bool]
    engine: sa.Engine | None = None
    export_reader: ExportReader | None = None


def new_uuid() -> str:
    return str(uuid.uuid4())


def bootstrap(settings: Settings) -> Services:
    engine = create_engine(settings.database_url)
    return _services(
        settings,
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        reading=lambda: SqlAlchemyUnitOfWork(engine, read_only=True),
        database_answers=lambda: database_answers(engine),
        export_reader=SqlAlchemyExportReader(engine),
        engine=engine,
    )


def in_memory_services(store: InMemoryStore, settings: Settings) -> Services:
    """The same service on an in-memory store: for fast tests and for embedding."""
    return _services(
        settings,
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        database_answers=lambda: True,
        export_reader=InMemoryExportReader(store),
    )


def _services(settings: Settings, unit_of_work, database_answers, export_reader, engine=None,
              reading=None) -> Services:  # fmt: skip
    deps = ExportResponsesDeps(
        unit_of_work=unit_of_work,
        reading=reading,
        clock=SystemClock(),
        new_uuid=new_uuid,
        max_response_ids=settings.max_response_ids,
    )
    return Services(
        settings=settings,
        export_responses=lambda command, received=None: export_responses(command, deps, received),
        database_answers=database_answers,
        engine=engine,
        export_reader=export_reader,
    )


def database_answers(engine: sa.Engine) -> bool:
    try:
        with engine.connect().execution_options(read_only=True) as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
