"""Use cases of the operators: retry, cancel, bulk retry, pause and resume.

Each action is one unit of work whose writes are conditional (see ExportActions). When a
write finds the export changed under it (a worker's claim, another operator), the action
reads why and refuses, or, if the change made it possible after all, tries again, a
bounded number of times.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from attrs import frozen

from application.operations_ports import RetryFilters
from application.ports import Clock, UnitOfWork, WriteConflict
from domain import operations as rules
from domain.exports import ExportState
from domain.operations import OPERATION_RULES, ExportStanding
from domain.results import CommandError

ROUNDS = 3
LOG = logging.getLogger("export_responses.operations")


class RefusalKind(enum.Enum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"


@frozen
class Refused:
    kind: RefusalKind
    error: CommandError

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.detail


@frozen
class Done:
    """The action was taken; `in_flight` when a cancel waits for the attempt to end."""

    in_flight: bool = False


@frozen
class Retried:
    count: int


@frozen
class OperationsDeps:
    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    new_uuid: Callable[[], str]


def export_not_found(export_id: int) -> Refused:
    return Refused(RefusalKind.NOT_FOUND, OPERATION_RULES.error("export_not_found", id=export_id))


def system_not_found(system_id: int) -> Refused:
    return Refused(RefusalKind.NOT_FOUND, OPERATION_RULES.error("system_not_found", id=system_id))


def _changed(what: str) -> Refused:
    return Refused(RefusalKind.CONFLICT, OPERATION_RULES.error("export_changed", what=what))


def _conflict(error: CommandError) -> Refused:
    return Refused(RefusalKind.CONFLICT, error)


def retry_export(deps: OperationsDeps, export_id: int, actor: str) -> Done | Refused:
    """Queue a failed or erroring export of this service again, due now, with a fresh
    retry schedule; anything else is refused and says why."""
    for _ in range(ROUNDS):
        try:
            with deps.unit_of_work() as uow:
                if uow.actions.requeue(export_id, rules.retried(deps.new_uuid(), actor), deps.clock.now()):
                    uow.commit()
                    LOG.info("export %s queued again by %s", export_id, actor)
                    return Done()
                standing = uow.actions.standing(export_id)
        except WriteConflict:  # a command queued a sibling export meanwhile: read why, next round
            continue
        if standing is None:
            return export_not_found(export_id)
        refusal = rules.retry_refusal(export_id, standing)
        if refusal is not None:
            return _conflict(refusal)
    return _changed(f"Export {export_id}")


def cancel_export(deps: OperationsDeps, export_id: int, actor: str) -> Done | Refused:
    """A queued or erroring export of this service fails now ("Cancelled by an operator");
    one in progress is marked, and fails when its attempt ends (Done(in_flight=True))."""
    for _ in range(ROUNDS):
        now = deps.clock.now()
        with deps.unit_of_work() as uow:
            if uow.actions.cancel(export_id, rules.cancelled(deps.new_uuid(), actor), now):
                uow.commit()
                LOG.info("export %s cancelled by %s", export_id, actor)
                return Done()
            if uow.actions.request_cancel(export_id, rules.cancel_requested(deps.new_uuid(), actor), actor, now):
                uow.commit()
                LOG.info("export %s to be cancelled by %s when its attempt ends", export_id, actor)
                return Done(in_flight=True)
            standing = uow.actions.standing(export_id)
        if standing is None:
            return export_not_found(export_id)
        refusal = rules.cancel_refusal(export_id, standing)
        if refusal is not None:
            return _conflict(refusal)
        if _cancel_already_requested(standing):
            return Done(in_flight=True)
    return _changed(f"Export {export_id}")


def _cancel_already_requested(standing: ExportStanding) -> bool:
    # request_cancel writes nothing when a cancel is already asked for: asking again is no error.
    return standing.owned and standing.state is ExportState.IN_PROGRESS


def retry_exports(deps: OperationsDeps, filters: RetryFilters, actor: str) -> Retried | Refused:
    """Queue again every failed or erroring export of this service that the filters match."""
    for _ in range(ROUNDS):
        try:
            with deps.unit_of_work() as uow:
                count = uow.actions.requeue_matching(filters, rules.retried(deps.new_uuid(), actor), deps.clock.now())
                uow.commit()
                LOG.info("%s exports queued again by %s (filters %s)", count, actor, filters)
                return Retried(count)
        except WriteConflict:  # a command queued a sibling of one of them meanwhile
            continue
    return _changed("The matching exports")


def pause_system(deps: OperationsDeps, system_id: int, actor: str) -> Done | Refused:
    """Pause an external system: its exports are still accepted and queued, not attempted."""
    with deps.unit_of_work() as uow:
        if not uow.controls.exists(system_id):
            return system_not_found(system_id)
        uow.controls.pause(system_id, actor, deps.clock.now())
        uow.commit()
    LOG.info("external system %s paused by %s", system_id, actor)
    return Done()


def resume_system(deps: OperationsDeps, system_id: int, actor: str) -> Done | Refused:
    """Resume an external system; its queued and erroring exports are due at once."""
    with deps.unit_of_work() as uow:
        if not uow.controls.exists(system_id):
            return system_not_found(system_id)
        due = uow.controls.resume(system_id, deps.clock.now())
        uow.commit()
    LOG.info("external system %s resumed by %s: %s exports due now", system_id, actor, due)
    return Done()
