"""The body of POST /api/v2/exports/retry: which exports to queue again, strictly read."""

from __future__ import annotations

from typing import Any

from application.operations_ports import RetryFilters
from domain.exports import ExportState
from domain.operations import RETRYABLE_STATES
from domain.results import CommandError, CommandResult
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.parsing import Rejected, decode_json
from entrypoints.strict import Problem, command_uuid, integer, json_type, string

_STATES = sorted(state.value for state in RETRYABLE_STATES)


def _state(value: Any) -> ExportState:
    if string(value) not in _STATES:
        raise Problem("invalid_state", f"must be one of {', '.join(_STATES)}, not {value!r}"[:300])
    return ExportState(value)


_FIELDS = {"external_system_id": integer, "state": _state, "command_uuid": command_uuid}


def parse_retry_filters(raw: bytes) -> RetryFilters:
    """The filters in `raw` (a JSON object, every key optional), or Rejected listing every problem."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise _rejected([CATALOGUE.error("invalid_body", json_type=json_type(body))])
    errors, values = [], {}
    for name in list(body)[:20]:  # at most 20 unknown keys listed: the reply stays small
        if name not in _FIELDS:
            problem = f"is not a filter; the filters are {', '.join(_FIELDS)}"
            errors.append(
                CATALOGUE.error("unknown_field", source="/" + name[:100], field=repr(name[:100]), problem=problem)
            )
    for name, parse in _FIELDS.items():
        if name in body:
            try:
                values[name] = parse(body[name])
            except Problem as problem:
                errors.append(CATALOGUE.error(problem.code, source=f"/{name}", field=name, problem=problem.message))
    if errors:
        raise _rejected(errors)
    return RetryFilters(**values)


def _rejected(errors: list[CommandError]) -> Rejected:
    return Rejected(CommandResult.reject(None, None, errors))
