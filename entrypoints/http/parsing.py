"""From request bytes to an ExportResponses command, or the errors that say why not."""

from __future__ import annotations

import json
from typing import Any

import attrs
import cattrs

from domain.commands import ExportResponses
from domain.results import CommandError, CommandResult
from entrypoints.http.converter import CommandUuid, Envelope, ExportResponsesData, make_converter
from entrypoints.strict import Problem, json_type, problems

FIELD_STATUS = 422  # as for the documented rule errors: the object says 422, the reply is a 400
_CONVERTER = make_converter()


@attrs.frozen
class Rejected(Exception):
    """The request cannot become a command; `result` says why."""

    result: CommandResult


def _refuse(status, code, message, source="/", command=None, uuid=None) -> Rejected:
    error = CommandError(status, code, message, message, source, command, uuid)
    return Rejected(CommandResult.reject(uuid, command, [error]))


def decode_json(raw: bytes) -> Any:
    def no_constants(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(raw, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise _refuse(400, "invalid_json", f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise _refuse(400, "invalid_json", "The request body is not valid JSON: it is nested too deeply") from None


def parse_export_responses(raw: bytes) -> ExportResponses:
    """The command in `raw`, or Rejected listing every problem found in it."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise _refuse(400, "invalid_body", f"The request body must be a JSON object, not {json_type(body)}")
    uuid = _valid_uuid(body.get("uuid"))
    command = body.get("command") if isinstance(body.get("command"), str) else None
    errors = _field_errors(body, Envelope, top_level=True, command=command, uuid=uuid)
    if command is not None and command != ExportResponses.NAME:
        errors.append(_field_error(("command",), Problem(
            "unknown_command", f"is {command!r}; this endpoint takes {ExportResponses.NAME}"
        ), True, command, uuid))  # fmt: skip
    data = body.get("data")
    if isinstance(data, dict):
        errors.extend(_field_errors(data, ExportResponsesData, top_level=False, command=command, uuid=uuid))
    if errors:
        raise Rejected(CommandResult.reject(uuid, command, errors))
    return ExportResponses(uuid, data["external_system_id"], data["response_ids"])


def _valid_uuid(value: Any) -> str | None:
    """The command's uuid if it is one, to echo in the errors; else None."""
    try:
        return _CONVERTER.structure(value, CommandUuid)
    except Problem:
        return None


def _field_errors(value: dict, cls: type, *, top_level: bool, command, uuid) -> list[CommandError]:
    try:
        _CONVERTER.structure(value, cls)
    except (cattrs.BaseValidationError, Problem) as error:
        return [_field_error(path, leaf, top_level, command, uuid) for path, leaf in problems(error)]
    return []


def _field_error(path: tuple, leaf: BaseException, top_level: bool, command, uuid) -> CommandError:
    # Sources point into `data` (the contract's `/response_ids`), except the top-level
    # fields, which point into the body (`/uuid`, `/command`, `/data`).
    source = "/" + "/".join(str(step) for step in path)
    name = ("" if top_level else "data") + "".join(
        f"[{step}]" if isinstance(step, int) else f".{step}" for step in path
    )
    name = name.lstrip(".")
    if isinstance(leaf, Problem):
        code, message = leaf.code, f"{name} {leaf.message}"
    elif isinstance(leaf, KeyError):
        code, message = "missing_field", f"{name} is required"
    else:  # a structuring failure our hooks did not foresee: still the client's input
        code, message = "invalid_value", f"{name} is not valid"
    return CommandError(FIELD_STATUS, code, message, message, source, command, uuid)
