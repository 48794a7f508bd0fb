"""Ports: the small interfaces the use cases need from the outside world."""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from datetime import datetime

from attrs import field, frozen

from application.operations_ports import ExportActions, SystemControls
from domain.exports import Progress, ProgressReport
from domain.external_systems import ExternalSystem
from domain.results import CommandResult


class WriteConflict(Exception):
    """A unique key refused a write because a concurrent transaction got there first.

    The unit of work has rolled back; running the use case again sees the winner's rows.
    """


class StoreUnavailable(Exception):
    """The store could not be reached; nothing was written."""


@frozen
class Received:
    """A command's request as it arrived, kept in the command log as the original kept it:
    the raw body, and the request's headers as CGI variables (credentials left out)."""

    body: str
    headers: dict[str, str] = field(factory=dict)


@frozen
class LoggedCommand:
    """A command in the command log, for replies to a repeated uuid.

    `fingerprint` is the canonical text of what the command asks, which a repeat must
    match. A uuid the Rails side logged has no name, fingerprint nor result here: any
    command sent under it is a conflict.
    """

    uuid: str
    name: str | None
    fingerprint: str | None
    result: CommandResult | None
    received: Received | None = None


@frozen
class ExportResponsesFacts:
    """What deciding an ExportResponses command reads, all as of one moment.

    When a command is logged under its uuid, only that: the reply comes from the log.
    """

    logged: LoggedCommand | None
    system: ExternalSystem | None = None
    existing_response_ids: frozenset[int] = frozenset()


class CommandFacts(abc.ABC):
    @abc.abstractmethod
    def for_export_responses(self, uuid: str, system_id: int, response_ids: Collection[int]) -> ExportResponsesFacts:
        """The command logged under `uuid`, or else the system and which of the responses
        exist: in one query whatever the number of responses."""


class ExportRepository(abc.ABC):
    @abc.abstractmethod
    def queue_responses(self, command_uuid: str, system_id: int, response_ids: Sequence[int], now: datetime) -> None:
        """Queue one export of each response to the system, with its queued event, as
        `domain.exports.queue_response_export` describes them, in a constant number of
        statements whatever the number of responses. A response that has an export to
        the system still pending gets none: one pending export per response and system
        (`domain.rules.responses_to_queue`), kept even against concurrent writers."""


class CommandLog(abc.ABC):
    @abc.abstractmethod
    def add(self, command: LoggedCommand) -> None:
        """Log a command; its uuid is a unique key (a second add raises WriteConflict at the latest on commit)."""


@frozen
class ClaimedExport:
    """An export a worker holds until `claimed_until`; only its claim token may record progress."""

    export_id: int
    claim_token: str
    attempt: int
    response_id: int
    case_number: str
    external_system_id: int
    case_type_id: str | None
    response_remote_office: bool
    progress: Progress  # once this attempt started: while the claim holds, no one else changes it


class ExportQueue(abc.ABC):
    """Exports waiting to be carried out, and the record of how they went."""

    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int, claimed_until: datetime, claim_token: str) -> list[ClaimedExport]:
        """Take up to `limit` due exports (queued, erroring and due, or in progress with an
        expired claim) under `claim_token` until `claimed_until`, so that no other worker
        can, and count the attempt (attempt + 1). Their state is left as it was: the
        caller records the attempt's start (`record_all`) in the same unit of work."""

    @abc.abstractmethod
    def record(
        self,
        export_id: int,
        claim_token: str,
        report: ProgressReport,
        progress: Progress,
        now: datetime,
        next_attempt_at: datetime | None = None,
        release: bool = False,
    ) -> bool:
        """Store the report as an event and `progress` on the export, if it is still held
        under `claim_token`; `release` ends the claim. False, storing nothing, if not."""

    @abc.abstractmethod
    def record_all(self, records: Sequence[tuple[int, ProgressReport, Progress]], now: datetime) -> None:
        """Store each (export id, report, progress) of exports this unit of work has just
        claimed, keeping the claims, in a constant number of statements."""

    @abc.abstractmethod
    def release(self, claim_token: str, now: datetime, export_ids: Sequence[int] | None = None) -> int:
        """End the claims held under `claim_token` (of `export_ids` only, if given) as of
        `now`: those exports are due again at once, not when the claims would have expired.
        How many claims it ended."""


class OfficeRepository(abc.ABC):
    @abc.abstractmethod
    def codes_by_name(self) -> dict[str, int]:
        """Every office's code, by its name."""

    @abc.abstractmethod
    def assign_response(self, response_id: int, office_code: int) -> None:
        """Make the office with `office_code` the response's office."""


class UnitOfWork(abc.ABC):
    """One transaction over all repositories: rolled back unless `commit` is called."""

    facts: CommandFacts
    exports: ExportRepository
    commands: CommandLog
    queue: ExportQueue
    offices: OfficeRepository
    actions: ExportActions
    controls: SystemControls

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc_info: object) -> None:
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


class DatabaseHealth(abc.ABC):
    """What the health probes ask of the store; each says False rather than raise."""

    @abc.abstractmethod
    def answers(self) -> bool:
        """Whether the store answers a read now."""

    @abc.abstractmethod
    def accepts_writes(self) -> bool:
        """Whether a durable write commits now."""
