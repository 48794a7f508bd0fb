"""Error codes and their messages. Codes are stable: clients switch on them."""

from __future__ import annotations

from domain.commands import ExportResponses
from domain.results import CommandError

UNPROCESSABLE = 422


def _error(status: int, code: str, message: str, source: str, command: str | None, uuid: str | None) -> CommandError:
    return CommandError(status, code, message, message, source, command, uuid)


def external_system_not_found(command: ExportResponses, system_id: int) -> CommandError:
    return _error(
        UNPROCESSABLE,
        "external_system_not_found",
        f"The external system with an id of {system_id} was not found",
        "/external_system_id",
        command.name,
        command.uuid,
    )


def external_system_not_exporting_responses(command: ExportResponses, system_id: int) -> CommandError:
    return _error(
        UNPROCESSABLE,
        "external_system_not_exporting_responses",
        f"The external system with an id of {system_id} is not enabled for exporting responses",
        "/external_system_id",
        command.name,
        command.uuid,
    )


def response_not_found(command: ExportResponses, response_id: int) -> CommandError:
    return _error(
        UNPROCESSABLE,
        "response_not_found",
        f"A response with an id of {response_id} was not found",
        "/response_ids",
        command.name,
        command.uuid,
    )


def too_many_response_ids(command_name: str | None, uuid: str | None, count: int, limit: int) -> CommandError:
    return _error(
        UNPROCESSABLE,
        "too_many_response_ids",
        f"A command may export at most {limit} responses; this one lists {count}",
        "/response_ids",
        command_name,
        uuid,
    )


def too_many_errors(command_name: str | None, uuid: str | None, count: int, limit: int) -> CommandError:
    return _error(
        UNPROCESSABLE,
        "too_many_errors",
        f"{count} problems in all; only the first {limit} are listed",
        "/",
        command_name,
        uuid,
    )


def capped(errors: list[CommandError] | tuple[CommandError, ...], limit: int) -> list[CommandError]:
    """The first `limit` errors and, when there were more, one that gives the total.

    A reply's size then has a bound whatever the request held (thousands of bad ids).
    """
    if len(errors) <= limit:
        return list(errors)
    first = errors[0]
    return [*errors[:limit], too_many_errors(first.command, first.uuid, len(errors), limit)]


def uuid_conflict(command: ExportResponses) -> CommandError:
    return _error(
        409,
        "uuid_conflict",
        f"The uuid {command.uuid} was already used by a command with different data",
        "/uuid",
        command.name,
        command.uuid,
    )
