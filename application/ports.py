"""Ports: the small interfaces the use cases need from the outside world."""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from attrs import field, frozen

from application.operations_ports import ExportActions, SystemControls
from domain.circuits import Circuit
from domain.exports import Progress, ProgressReport
from domain.external_systems import ExternalSystem
from domain.results import CommandResult
from domain.throttling import Throttle


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
    def accept(self, command: LoggedCommand, system_id: int, response_ids: Sequence[int], now: datetime) -> None:
        """Log an accepted command and queue its exports (as `ExportRepository.queue_responses`
        does), all or none, the log entry first: its uuid is a unique key, so a concurrent
        twin is refused before it has queued anything (WriteConflict, at the latest on
        commit), as is a command whose responses were deleted since it was checked.

        The unit's commit makes it durable; an adapter that can write it all in one
        statement may commit it on its own, before the unit's commit (which is then
        left nothing to do)."""


@frozen
class ClaimedExport:
    """An export a worker holds until `claimed_until`; only its claim token may record progress."""

    export_id: int
    claim_token: str
    attempt: int
    response_id: int
    case_number: str | None  # None: the response has none
    external_system_id: int
    external_system_reference: str
    case_type_id: str | None
    response_remote_office: bool
    progress: Progress  # once this attempt started: while the claim holds, no one else changes it
    probe: bool = False  # the one attempt that tests CCD while the system's circuit is not closed
    # Set when an operator cancelled the export while an earlier attempt held it, and that
    # attempt's worker died: this attempt ends it without asking CCD.
    cancel_requested_by: str | None = None
    # The slot its system's pace gave the call (`domain.throttling`): not before then.
    not_before: datetime | None = None
    # False when the response was deleted after its export was queued (nothing in the
    # original's schema ties an export to its response): there is nothing to export.
    response_exists: bool = True


@frozen
class Holding:
    """Who holds an export's claim now, and who asked to cancel it while an attempt held it."""

    claim_token: str | None
    cancel_requested_by: str | None = None


@frozen
class AttemptEnd:
    """How an attempt at an export still held under `claim_token` ended: its reports, in
    order, each stored as an event; the export's progress after them; when it is due
    again, if it is; and whether the attempt counts against its schedule."""

    export_id: int
    claim_token: str
    reports: tuple[ProgressReport, ...]
    progress: Progress
    next_attempt_at: datetime | None = None
    charged: bool = True


class ExportQueue(abc.ABC):
    """Exports waiting to be carried out, and the record of how they went."""

    @abc.abstractmethod
    def claim_due(
        self,
        now: datetime,
        limit: int,
        claimed_until: datetime,
        claim_token: str,
        probe_systems: Collection[int] = (),
        paced: Mapping[int, int] | None = None,
    ) -> list[ClaimedExport]:
        """Take up to `limit` due exports (queued, erroring and due, or in progress with an
        expired claim) under `claim_token` until `claimed_until`, so that no other worker
        can, and count the attempt (attempt + 1). Their state is left as it was: the
        caller records the attempt's start (`record_all`) in the same unit of work.

        Exports of a paused system, or of one whose circuit is not closed, are left
        alone (no attempt charged, their schedule kept); but first one due export of
        each of `probe_systems` (whose probe this unit won) is taken, marked `probe`.
        So are exports of a system its throttle pauses or paces (`domain.throttling`),
        but for up to `paced[system_id]` due exports of each paced one: after the probes,
        the rest take the room but for up to half of it, kept for the paced ones, taken
        in the order `paced` gives them."""

    @abc.abstractmethod
    def holdings(self, export_ids: Collection[int]) -> dict[int, Holding]:
        """Lock the exports against other writers until the unit ends, in the order of
        their ids, and say who holds each and who asked to cancel it (read under that
        lock, as the attempts end). Exports that are not there are left out."""

    @abc.abstractmethod
    def end_attempts(self, ends: Sequence[AttemptEnd], now: datetime) -> None:
        """End each attempt, at an export this unit has locked (`holdings`) and found held
        under the end's claim token: store its reports as events and its progress on the
        export, end the claim (consuming a cancel request), and give the attempt back
        unless `charged`. In a constant number of statements."""

    @abc.abstractmethod
    def record_all(self, records: Sequence[tuple[int, ProgressReport, Progress]], now: datetime) -> None:
        """Store each (export id, report, progress) of exports this unit of work has just
        claimed, keeping the claims, in a constant number of statements."""

    @abc.abstractmethod
    def release(self, claim_token: str, now: datetime, export_ids: Sequence[int] | None = None) -> int:
        """End the claims held under `claim_token` (of `export_ids` only, if given) as of
        `now`: those exports are due again at once, not when the claims would have expired.
        How many claims it ended."""

    @abc.abstractmethod
    def make_due(self, system_id: int, now: datetime) -> int:
        """Make every waiting (queued or erroring) export of the system due now, as when
        its circuit closes or it is resumed. How many were waiting for later."""


class CircuitBreakers(abc.ABC):
    """Each external system's circuit breaker (`domain.circuits`), shared by all workers."""

    @abc.abstractmethod
    def circuit(self, system_id: int) -> Circuit:
        """The system's circuit (closed if none is stored), locked until the unit ends."""

    @abc.abstractmethod
    def save(self, system_id: int, circuit: Circuit, now: datetime) -> None:
        """Store the system's circuit, leaving its pause as it is."""

    @abc.abstractmethod
    def start_probes(self, now: datetime, hold_until: datetime) -> list[int]:
        """The systems this unit now probes: not paused, a probe due (`start_probe`) and
        an export due. Each is marked half open until `hold_until` in one conditional
        statement, so that of concurrent workers exactly one probes a system."""


class SystemThrottles(abc.ABC):
    """Each external system's throttle (`domain.throttling`), shared by all workers."""

    @abc.abstractmethod
    def throttle(self, system_id: int) -> Throttle:
        """The system's throttle (none if none is stored), locked until the unit ends."""

    @abc.abstractmethod
    def save(self, system_id: int, throttle: Throttle, now: datetime) -> None:
        """Store the system's throttle, leaving its pause and circuit as they are."""

    @abc.abstractmethod
    def paced(self, now: datetime) -> dict[int, Throttle]:
        """The throttles of the systems paced now whose exports may be claimed otherwise
        (not paused by an operator, circuit closed), locked until the unit ends."""

    @abc.abstractmethod
    def claims_in_flight(
        self, system_id: int, now: datetime, ended: Collection[int] = ()
    ) -> tuple[int, datetime | None]:
        """How many of the system's exports are held by live claims, and the earliest
        `claimed_until` among them; leaving out `ended`, exports whose attempts the unit
        has ended but not yet written."""

    @abc.abstractmethod
    def held_until(self, now: datetime) -> datetime | None:
        """The soonest that a system whose throttle holds back waiting exports may have
        one claimed again; None if no throttle holds any back."""


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
    circuits: CircuitBreakers
    throttles: SystemThrottles
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
