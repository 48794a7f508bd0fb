"""What an operator may do to an export, the events that record who did it, and why an
action is refused (its codes, declared here once: the HTTP catalogue extends RULES with them)."""

from __future__ import annotations

from attrs import frozen

from domain.errors import Catalogue, ErrorCode
from domain.exports import SERVICE_DATA_KEY, ExportEvent, ExportState
from domain.results import CommandError

RETRYABLE_STATES = frozenset({ExportState.FAILED, ExportState.ERRORING})
CANCELLABLE_STATES = frozenset({ExportState.QUEUED, ExportState.ERRORING})
RETRIED_MESSAGE = "Queued again by an operator"
CANCELLED_MESSAGE = "Cancelled by an operator"
CANCEL_REQUESTED_MESSAGE = "Cancel requested by an operator: the export fails when its current attempt ends"
CLI_ACTOR = "cli"
UNNAMED_ACTOR = "api"
CONFLICT = 409

OPERATION_RULES = Catalogue.of(
    ErrorCode("export_not_found", 404, 404, "The export with an id of {id} was not found", "/export_id"),
    # The system a path names (pause, resume): a 404. A command naming an unknown system
    # breaks a rule instead (external_system_not_found, a 400).
    ErrorCode("system_not_found", 404, 404, "The external system with an id of {id} was not found", "/system_id"),
    ErrorCode(
        "export_owned_by_et_api",
        CONFLICT,
        CONFLICT,
        "Export {id} belongs to the ET API (it was not queued by this service): its own exporter runs it, "
        "so this service shows it but leaves it alone",
    ),
    ErrorCode(
        "export_not_retryable",
        CONFLICT,
        CONFLICT,
        "Export {id} is {state}: only a failed or erroring export can be retried",
    ),
    ErrorCode(
        "export_already_pending",
        CONFLICT,
        CONFLICT,
        "Export {id} cannot be retried: export {sibling} of the same response to the same system is still pending",
    ),
    ErrorCode(
        "export_not_cancellable",
        CONFLICT,
        CONFLICT,
        "Export {id} is {state}: only a queued, erroring or in_progress export can be cancelled",
    ),
    ErrorCode(
        "export_changed",
        CONFLICT,
        CONFLICT,
        "{what} kept changing while the action ran (workers are busy with it); try again",
    ),
)


def actor_of(token_name: str | None) -> str:
    """Who an action is recorded as: the API token's name, or "api" for an unnamed token."""
    return token_name or UNNAMED_ACTOR


def action_event(uuid: str, state: ExportState, message: str, action: str, actor: str) -> ExportEvent:
    """An event an operator's action writes; `data` says which action and who, beside the
    empty `external_data` that every event of the original carries."""
    percent = 0 if state is not ExportState.IN_PROGRESS else None
    data = {"external_data": {}, SERVICE_DATA_KEY: {"action": action, "by": actor}}
    return ExportEvent(uuid, state, percent, message, data)


def retried(uuid: str, actor: str) -> ExportEvent:
    return action_event(uuid, ExportState.QUEUED, RETRIED_MESSAGE, "retry", actor)


def cancelled(uuid: str, actor: str) -> ExportEvent:
    return action_event(uuid, ExportState.FAILED, CANCELLED_MESSAGE, "cancel", actor)


def cancel_requested(uuid: str, actor: str) -> ExportEvent:
    return action_event(uuid, ExportState.IN_PROGRESS, CANCEL_REQUESTED_MESSAGE, "cancel", actor)


@frozen
class ExportStanding:
    """What deciding an action on one export needs to know of it."""

    state: ExportState
    owned: bool  # queued by this service (it names a command), not by the Rails side
    pending_sibling_id: int | None = None  # another export of its response to its system still pending


def retry_refusal(export_id: int, standing: ExportStanding) -> CommandError | None:
    """Why the export cannot be retried, or None when it can."""
    if not standing.owned:
        return OPERATION_RULES.error("export_owned_by_et_api", id=export_id)
    if standing.state not in RETRYABLE_STATES:
        return OPERATION_RULES.error("export_not_retryable", id=export_id, state=standing.state.value)
    if standing.pending_sibling_id is not None:
        return OPERATION_RULES.error("export_already_pending", id=export_id, sibling=standing.pending_sibling_id)
    return None


def cancel_refusal(export_id: int, standing: ExportStanding) -> CommandError | None:
    """Why the export cannot be cancelled, or None when it can (now, or when its attempt ends)."""
    if not standing.owned:
        return OPERATION_RULES.error("export_owned_by_et_api", id=export_id)
    if standing.state.is_final or standing.state is ExportState.CREATED:
        return OPERATION_RULES.error("export_not_cancellable", id=export_id, state=standing.state.value)
    return None
