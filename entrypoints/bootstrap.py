"""The composition root: every entry point's services, built from Settings in one place.

The API, the worker, each CLI command, the features, the tests and an embedding host
all call `bootstrap(settings)`, overriding only what they fake: `store=` runs on an
in-memory store instead of DATABASE_URL, `ccd=` exports to another CCD gateway,
`clock=` and `new_uuid=` fix time and identifiers. Adding a service is one field of
`Services` and the line in `bootstrap` that builds it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Protocol

import sqlalchemy as sa
from attrs import field, frozen

from adapters.ccd.rate_limit import RateLimitedCcdGateway
from adapters.ccd.settings import CcdSettings
from adapters.clock import SystemClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.export_views import InMemoryExportReader
from adapters.memory.health import InMemoryHealth
from adapters.memory.system_views import InMemorySystemReader
from adapters.metrics.families import Scrape
from adapters.metrics.queue_figures import QueueFiguresCollector
from adapters.sql.accepting import DriverAcceptingUnit
from adapters.sql.engine import create_engine
from adapters.sql.export_views import SqlAlchemyExportReader
from adapters.sql.health import SqlAlchemyHealth
from adapters.sql.loading import SqlAlchemyDataLoader
from adapters.sql.pooling import Pooling
from adapters.sql.reading import DriverReadingUnit, ReadingConnections
from adapters.sql.system_views import SqlAlchemySystemReader
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from application.ccd import CcdGateway
from application.export_responses import ExportResponsesDeps, ReceivedOrGiver, export_responses
from application.export_status import ExportReader
from application.loading import DataLoader
from application.operations import OperationsDeps
from application.ports import Clock, DatabaseHealth, UnitOfWork
from application.system_status import SystemReader
from domain.commands import ExportResponses
from domain.results import CommandResult
from domain.retries import RetrySchedule
from entrypoints.config import Settings

MIGRATION_STATEMENT_SECONDS = 3600.0


class HandleExportResponses(Protocol):
    def __call__(self, command: ExportResponses, received: ReceivedOrGiver = None) -> CommandResult:
        """Validate the command, then queue its exports or refuse it; log it when accepted,
        with `received` (or what the function `received` gives, asked for only then)."""


@frozen(kw_only=True)
class Services:
    """What the entry points use; each takes only the fields it needs."""

    settings: Settings
    handle_export_responses: HandleExportResponses
    export_reader: ExportReader
    # The operators' actions (retry, cancel, pause, resume), and the systems as they see them.
    operations: OperationsDeps
    system_reader: SystemReader
    health: DatabaseHealth
    # What the worker's use cases need; None when there is no CCD to export to.
    export_work: ExportWorkDeps | None
    # Writes `load` and `seed` datasets; None on the in-memory store.
    loader: DataLoader | None
    clock: Clock
    # The engine on DATABASE_URL (None on the in-memory store): for the CLI's schema
    # checks and the fake CCD's cases, both of them adapter functions.
    engine: sa.Engine | None = None
    # What `close` releases, in order: the CCD gateway's sessions, then the engine's pool.
    closers: tuple[Callable[[], None], ...] = ()
    # GET /metrics: the figures counted (scrape.metrics) and those read when scraped.
    scrape: Scrape = field(factory=Scrape)

    def close(self) -> None:
        for close in self.closers:
            close()


def new_uuid() -> str:
    return str(uuid.uuid4())


def bootstrap(
    settings: Settings,
    *,
    store: InMemoryStore | None = None,
    ccd: CcdGateway | None = None,
    ccd_settings: CcdSettings | None = None,
    max_ccd_rate: float | None = None,
    clock: Clock | None = None,
    new_uuid: Callable[[], str] = new_uuid,
    unit_of_work: Callable[[], UnitOfWork] | None = None,
    pause: Callable[[float], None] = time.sleep,
    engine: sa.Engine | None = None,
    pool_size: int | None = None,
    scrape: Scrape | None = None,
) -> Services:
    """The services on DATABASE_URL, or on `store` when given.

    The worker's CCD is `ccd`, else an HTTP gateway on `ccd_settings` (at most
    `max_ccd_rate` calls a second), else none. `unit_of_work` replaces the store's (a
    test's faults); `pause` is the worker's wait between tries to record an attempt.
    `engine` is used instead of one on DATABASE_URL (its owner disposes of it);
    `pool_size` sizes the engine's pool to the worker's threads. `scrape` is where the
    figures are counted: by default with the queue's, read from the database when scraped
    (the API's); the worker passes one of its own without them (they are the API's to serve).
    """
    clock = clock or SystemClock()
    closers: list[Callable[[], None]] = []
    reads_the_queue = scrape is None
    scrape = scrape or Scrape()
    if ccd is None and ccd_settings is not None:
        # requests only for a real CCD: an embedding host loads no HTTP library.
        from adapters.ccd.http_gateway import HttpCcdGateway  # noqa: PLC0415

        gateway = HttpCcdGateway(ccd_settings, observe_call=scrape.metrics.ccd_call)
        closers.append(gateway.close)
        ccd = RateLimitedCcdGateway(gateway, max_ccd_rate) if max_ccd_rate else gateway
    if store is None:
        if engine is None:
            engine = database_engine(settings, **({"pool_size": pool_size} if pool_size else {}))
            closers.append(engine.dispose)
        if reads_the_queue:
            scrape.add(QueueFiguresCollector(engine, clock.now))
        writing: Callable[[], UnitOfWork] = unit_of_work or _writing(engine)
        # Replays and rejections only read: a read-only unit leaves SQLite's one writer alone.
        reading: Callable[[], UnitOfWork] | None = None
        accepting: Callable[[], UnitOfWork] | None = None
        if not unit_of_work:
            connections = ReadingConnections(engine)
            closers.append(connections.close)  # whoever owns the engine: the threads' connections are ours
            reading = partial(DriverReadingUnit, engine, connections)
            accepting = partial(DriverAcceptingUnit, engine, connections)
        reader: ExportReader = SqlAlchemyExportReader(engine)
        systems: SystemReader = SqlAlchemySystemReader(engine)
        health: DatabaseHealth = SqlAlchemyHealth(engine)
        loader: DataLoader | None = SqlAlchemyDataLoader(engine)
    else:
        memory = store
        writing = unit_of_work or (lambda: InMemoryUnitOfWork(memory))
        reading, accepting, reader, health = None, None, InMemoryExportReader(store), InMemoryHealth()
        loader = None
        systems = InMemorySystemReader(store)
    command_deps = ExportResponsesDeps(
        unit_of_work=writing,
        reading=reading,
        accepting=accepting,
        clock=clock,
        new_uuid=new_uuid,
        max_response_ids=settings.max_response_ids,
        max_errors=settings.max_errors,
        on_outcome=scrape.metrics.command,
    )
    work = None
    if ccd is not None:
        work = ExportWorkDeps(
            unit_of_work=writing,
            ccd=ccd,
            clock=clock,
            new_uuid=new_uuid,
            retries=RetrySchedule(settings.retry_delays),
            claim_seconds=settings.claim_seconds,
            pause=pause,
            circuit=settings.circuit,
        )
    return Services(
        settings=settings,
        handle_export_responses=lambda command, received=None: export_responses(command, command_deps, received),
        export_reader=reader,
        operations=OperationsDeps(unit_of_work=writing, clock=clock, new_uuid=new_uuid),
        system_reader=systems,
        health=health,
        export_work=work,
        loader=loader,
        clock=clock,
        engine=engine,
        closers=tuple(closers),
        scrape=scrape,
    )


def _writing(engine: sa.Engine) -> Callable[[], UnitOfWork]:
    return lambda: SqlAlchemyUnitOfWork(engine)


def database_engine(settings: Settings, **options) -> sa.Engine:
    """The engine on DATABASE_URL, connecting as DATABASE_POOLING says, with its bounded waits."""
    return _engine(settings.database_url, settings, settings.database_pooling, **options)


def schema_engine(settings: Settings) -> sa.Engine:
    """The engine for migrations: past any pooler when DATABASE_DIRECT_URL is set.

    A migration runs in one transaction, so it works through a transaction pooler too;
    direct, it is not cut short by the pooler's query timeouts, and DDL that cannot
    run in a transaction (CREATE INDEX CONCURRENTLY) or a session lock can be added.
    """
    # A migration gives up on a lock as any request does (it must not queue the Rails
    # side behind it), but may take long: building an index on a large table.
    if settings.database_direct_url:
        return _engine(settings.database_direct_url, settings, statement_timeout_seconds=MIGRATION_STATEMENT_SECONDS)
    return _engine(
        settings.database_url,
        settings,
        settings.database_pooling,
        statement_timeout_seconds=MIGRATION_STATEMENT_SECONDS,
    )


def _engine(url: str, settings: Settings, pooling: Pooling | None = None, **options) -> sa.Engine:
    """The one place an engine is made: the settings' bounded waits, unless `options` say otherwise."""
    options.setdefault("statement_timeout_seconds", settings.statement_timeout_seconds)
    if pooling is not None:
        options["pooling"] = pooling
    return create_engine(url, lock_wait_seconds=settings.lock_wait_seconds, **options)
