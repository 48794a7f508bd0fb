"""The rules an ExportResponses command must satisfy, all of them run, in contract order."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from domain import errors
from domain.commands import ExportResponses
from domain.external_systems import ExternalSystem
from domain.results import CommandError


def check_export_responses(
    command: ExportResponses,
    system: ExternalSystem | None,
    existing_response_ids: Collection[int],
) -> list[CommandError]:
    """Every reason the command cannot be accepted; empty when it can."""
    found: list[CommandError] = []
    if system is None:
        found.append(_error("external_system_not_found", command, command.external_system_id))
    elif not system.accepts_response_exports:
        found.append(_error("external_system_not_exporting_responses", command, command.external_system_id))
    found.extend(
        _error("response_not_found", command, response_id)
        for response_id in command.distinct_response_ids()
        if response_id not in existing_response_ids
    )
    return found


def _error(code: str, command: ExportResponses, object_id: int) -> CommandError:
    return errors.RULES.error(code, command=command.name, uuid=command.uuid, id=object_id)


def responses_to_queue(response_ids: Iterable[int], pending_response_ids: Collection[int]) -> list[int]:
    """Distinct ids, in the order sent, that have no export to this system still pending."""
    return [rid for rid in dict.fromkeys(response_ids) if rid not in pending_response_ids]
