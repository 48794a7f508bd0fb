"""Use case: accept an ExportResponses command and queue one export per response."""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from application.ports import Clock, LoggedCommand, Received, UnitOfWork, WriteConflict
from application.retrying import retried
from domain import errors, rules
from domain.commands import ExportResponses
from domain.results import CommandResult

DEFAULT_MAX_RESPONSE_IDS = 10_000
DEFAULT_MAX_ERRORS = 100
# A conflict means another transaction committed first; one more run sees its rows.
# More than a few in a row would be a bug, not contention.
_ATTEMPTS = 3


@frozen
class ExportResponsesDeps:
    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    new_uuid: Callable[[], str]
    max_response_ids: int = DEFAULT_MAX_RESPONSE_IDS
    # A rejection lists at most this many errors, then one that gives the total.
    max_errors: int = DEFAULT_MAX_ERRORS
    # Replays and rejections only read: given a unit of work that never writes, they
    # run in it and leave the writers' lock alone (SQLite has one writer at a time).
    reading: Callable[[], UnitOfWork] | None = None
    # An accepted command's writes go in this unit, of which they use `commands` alone
    # (SQLite's holds the one writer's lock for less time); by default in unit_of_work.
    accepting: Callable[[], UnitOfWork] | None = None
    # Told how each command ended ("accepted", "replayed", "rejected", "conflict"): the metrics.
    on_outcome: Callable[[str], None] = lambda outcome: None


# The request as it arrived, or what gives it: asked for only when the command is logged.
ReceivedOrGiver = Received | Callable[[], Received] | None


def export_responses(
    command: ExportResponses, deps: ExportResponsesDeps, received: ReceivedOrGiver = None
) -> CommandResult:
    """Validate the command and, when valid, queue its exports in one transaction.

    Accepted commands are logged under their uuid: sending the same command again
    returns the first result and writes nothing; sending other data under that uuid
    is refused with `uuid_conflict`. Rejected commands write nothing and are not
    logged, so they are evaluated afresh each time they are sent. `received`, the
    request as it arrived (or a function that gives it, called only for an accepted
    command: most commands a busy service answers are replays and rejections), is
    logged with the command.
    """
    if len(command.response_ids) > deps.max_response_ids:
        deps.on_outcome("rejected")
        return CommandResult.reject(
            command.uuid,
            command.name,
            [
                errors.RULES.error(
                    "too_many_response_ids",
                    command=command.name,
                    uuid=command.uuid,
                    count=len(command.response_ids),
                    limit=deps.max_response_ids,
                )
            ],
        )
    return retried(lambda: _attempt(command, deps, received), on=WriteConflict, attempts=_ATTEMPTS)


def _attempt(command: ExportResponses, deps: ExportResponsesDeps, received: ReceivedOrGiver) -> CommandResult:
    response_ids = command.distinct_response_ids()
    with (deps.reading or deps.unit_of_work)() as uow:
        facts = uow.facts.for_export_responses(command.uuid, command.external_system_id, response_ids)
    if facts.logged is not None:
        replied = _reply_to_repeat(command, facts.logged)
        deps.on_outcome("replayed" if replied is facts.logged.result else "conflict")
        return replied
    problems = rules.check_export_responses(command, facts.system, facts.existing_response_ids)
    if problems:
        deps.on_outcome("rejected")
        return CommandResult.reject(command.uuid, command.name, errors.capped(problems, deps.max_errors))

    result = CommandResult.accept(command.uuid, command.name)
    arrived = received() if callable(received) else received
    logged = LoggedCommand(command.uuid, command.name, command.fingerprint(), result, arrived)
    with (deps.accepting or deps.unit_of_work)() as uow:
        # The log entry goes first: a concurrent twin blocks on its unique key, or fails
        # on it, before either has written any export; the next attempt then answers
        # from the log. Responses deleted since the check above fail their foreign key
        # the same way, and the next attempt reports them missing.
        uow.commands.accept(logged, command.external_system_id, response_ids, deps.clock.now())
        uow.commit()
    deps.on_outcome("accepted")
    return result


def _reply_to_repeat(command: ExportResponses, logged: LoggedCommand) -> CommandResult:
    if logged.result is not None and (logged.name, logged.fingerprint) == (command.name, command.fingerprint()):
        return logged.result
    return CommandResult.reject(
        command.uuid, command.name, [errors.RULES.error("uuid_conflict", command=command.name, uuid=command.uuid)]
    )
