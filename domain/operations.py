"""What an operator may do to an export, and the events that record who did it."""

from __future__ import annotations

from attrs import frozen

from domain.exports import SERVICE_DATA_KEY, ExportEvent, ExportState

RETRYABLE_STATES = frozenset({ExportState.FAILED, ExportState.ERRORING})
CANCELLABLE_STATES = frozenset({ExportState.QUEUED, ExportState.ERRORING})
RETRIED_MESSAGE = "Queued again by an operator"
CANCELLED_MESSAGE = "Cancelled by an operator"
CANCEL_REQUESTED_MESSAGE = "Cancel requested by an operator: the export fails when its current attempt ends"
ET_API_REASON = (
    "belongs to the ET API (it was not queued by this service): its own exporter runs it, "
    "so this service shows it but leaves it alone"
)
CLI_ACTOR = "cli"
UNNAMED_ACTOR = "api"


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


@frozen
class Refusal:
    code: str
    message: str


def retry_refusal(export_id: int, standing: ExportStanding) -> Refusal | None:
    """Why the export cannot be retried, or None when it can."""
    if not standing.owned:
        return Refusal("export_owned_by_et_api", f"Export {export_id} {ET_API_REASON}")
    if standing.state not in RETRYABLE_STATES:
        return Refusal(
            "export_not_retryable",
            f"Export {export_id} is {standing.state.value}: only a failed or erroring export can be retried",
        )
    if standing.pending_sibling_id is not None:
        return Refusal(
            "export_already_pending",
            f"Export {export_id} cannot be retried: export {standing.pending_sibling_id} of the same "
            "response to the same system is still pending",
        )
    return None


def cancel_refusal(export_id: int, standing: ExportStanding) -> Refusal | None:
    """Why the export cannot be cancelled, or None when it can (now, or when its attempt ends)."""
    if not standing.owned:
        return Refusal("export_owned_by_et_api", f"Export {export_id} {ET_API_REASON}")
    if standing.state.is_final or standing.state is ExportState.CREATED:
        return Refusal(
            "export_not_cancellable",
            f"Export {export_id} is {standing.state.value}: only a queued, erroring or in_progress "
            "export can be cancelled",
        )
    return None
