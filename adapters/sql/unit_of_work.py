"""The SQLAlchemy unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.orm import Session, sessionmaker

from adapters.sql import queue, repositories
from application.ports import StoreUnavailable, UnitOfWork, WriteConflict


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


class SqlAlchemyUnitOfWork(UnitOfWork):
    """`read_only` units never commit; on SQLite they also take no write lock."""

    def __init__(self, sessions: sessionmaker[Session], read_only: bool = False):
        self.sessions = sessions
        self.read_only = read_only

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self.sessions()
        if self.read_only:
            self.session.connection(execution_options={"read_only": True})
        self.external_systems = repositories.SqlAlchemyExternalSystemRepository(self.session)
        self.responses = repositories.SqlAlchemyResponseRepository(self.session)
        self.exports = repositories.SqlAlchemyExportRepository(self.session)
        self.commands = repositories.SqlAlchemyCommandLog(self.session)
        self.queue = queue.SqlAlchemyExportQueue(self.session)
        self.offices = queue.SqlAlchemyOfficeRepository(self.session)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()
        translated = translate(exc)
        if translated is not None:
            raise translated from exc

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        try:
            self.session.commit()
        except sa.exc.DBAPIError as error:
            raise translate(error) or error

    def rollback(self) -> None:
        self.session.rollback()


def translate(error: BaseException | None) -> Exception | None:
    """The port-level meaning of a database error, or None when it has none."""
    if isinstance(error, sa.exc.IntegrityError):
        return WriteConflict(str(error.orig))
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable("the database connection was lost")
    if isinstance(error, sa.exc.OperationalError):
        return StoreUnavailable(str(error.orig))
    return None
