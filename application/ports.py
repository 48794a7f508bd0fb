"""Ports: the small interfaces the use cases need from the outside world."""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from datetime import datetime

from attrs import frozen

from domain.exports import Export
from domain.external_systems import ExternalSystem
from domain.results import CommandResult


class WriteConflict(Exception):
    """A unique key refused a write because a concurrent transaction got there first.

    The unit of work has rolled back; running the use case again sees the winner's rows.
    """


class StoreUnavailable(Exception):
    """The store could not be reached; nothing was written."""


@frozen
class LoggedCommand:
    """An accepted command as the command log keeps it, for replies to a repeated uuid."""

    uuid: str
    name: str
    request_body: str
    result: CommandResult


class ExternalSystemRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, system_id: int) -> ExternalSystem | None:
        """The system (without its configuration rows), or None, in one query."""


class ResponseRepository(abc.ABC):
    @abc.abstractmethod
    def existing_ids(self, response_ids: Collection[int]) -> set[int]:
        """Those of `response_ids` that exist, in one round trip whatever their number."""


class ExportRepository(abc.ABC):
    @abc.abstractmethod
    def pending_response_ids(self, system_id: int, response_ids: Collection[int]) -> set[int]:
        """Those responses that already have a non-final export to the system."""

    @abc.abstractmethod
    def add_all(self, exports: Sequence[Export]) -> None:
        """Store new exports and their events, in a constant number of statements."""


class CommandLog(abc.ABC):
    @abc.abstractmethod
    def get(self, uuid: str) -> LoggedCommand | None:
        """The command logged under `uuid`, or None."""

    @abc.abstractmethod
    def add(self, command: LoggedCommand) -> None:
        """Log a command; its uuid is a unique key (a second add raises WriteConflict at the latest on commit)."""


class UnitOfWork(abc.ABC):
    """One transaction over all repositories: rolled back unless `commit` is called."""

    external_systems: ExternalSystemRepository
    responses: ResponseRepository
    exports: ExportRepository
    commands: CommandLog

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc_info) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make every write of this unit durable, or raise WriteConflict and keep none."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Forget every write not yet committed."""


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
