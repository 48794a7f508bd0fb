"""From request bytes to an ExportResponses command, or the errors that say why not."""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs
import cattrs
import falcon

from application.export_responses import DEFAULT_MAX_ERRORS, DEFAULT_MAX_RESPONSE_IDS
from domain import errors as domain_errors
from domain.commands import ExportResponses
from domain.results import CommandError, CommandResult
from entrypoints.http.converter import (
    CommandUuid,
    Envelope,
    ExportResponsesData,
    ExportResponsesSystem,
    make_converter,
)
from entrypoints.strict import Problem, json_type, problems

FIELD_STATUS = 422  # as for the documented rule errors: the object says 422, the reply is a 400
ECHO_LIMIT = 200  # characters of a client's string that an error repeats
LOG = logging.getLogger("export_responses.http")
_JSON_TYPES = ("application/json",)
_CONVERTER = make_converter()


@attrs.frozen
class Rejected(Exception):
    """The request cannot become a command; `result` says why."""

    result: CommandResult


def _refuse(status, code, message, source="/", command=None, uuid=None) -> Rejected:
    error = CommandError(status, code, message, message, source, command, uuid)
    return Rejected(CommandResult.reject(uuid, command, [error]))


def read_json_body(req: falcon.Request, limit: int) -> bytes:
    """The raw body of a JSON request: other media types, oversized, incomplete and
    unreadable bodies are refused (415, 413, 400, 400)."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise falcon.HTTPUnsupportedMediaType()
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description=str(limit))
    # A chunked body has no Content-Length, so Falcon's bounded stream would read
    # nothing; the server marks such input as terminated and it is safe to read.
    chunked = req.content_length is None and req.env.get("wsgi.input_terminated", False)
    try:
        raw = (req.stream if chunked else req.bounded_stream).read(limit + 1)
    except Exception as error:  # the server's own: its chunk parser's, or the client gone
        LOG.info("request body unreadable: %s: %s", type(error).__name__, error)
        raise _refuse(
            400,
            "unreadable_body",
            "The request body could not be read: its chunked encoding is malformed or it ended early",
        ) from None
    if len(raw) > limit:
        raise falcon.HTTPContentTooLarge(description=str(limit))
    if req.content_length is not None and len(raw) < req.content_length:
        raise _refuse(
            400,
            "incomplete_body",
            f"The request body ended after {len(raw)} of the {req.content_length} bytes its Content-Length announced",
        )
    return raw


def decode_json(raw: bytes) -> Any:
    def no_constants(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(raw, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise _refuse(400, "invalid_json", f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise _refuse(400, "invalid_json", "The request body is not valid JSON: it is nested too deeply") from None


def parse_export_responses(
    raw: bytes, *, max_response_ids: int = DEFAULT_MAX_RESPONSE_IDS, max_errors: int = DEFAULT_MAX_ERRORS
) -> ExportResponses:
    """The command in `raw`, or Rejected listing the problems found in it.

    The work is bounded by the body's size, whatever it holds: ids are counted before
    any is checked (more than `max_response_ids` is one error, not one per id), and at
    most `max_errors` problems are listed, then one that gives the total.
    """
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise _refuse(400, "invalid_body", f"The request body must be a JSON object, not {json_type(body)}")
    uuid = _valid_uuid(body.get("uuid"))
    command = _echoed(body.get("command")) if isinstance(body.get("command"), str) else None
    errors = _field_errors(body, Envelope, top_level=True, command=command, uuid=uuid)
    if command is not None and command != ExportResponses.NAME:
        problem = Problem("unknown_command", f"is {command!r}; this endpoint takes {ExportResponses.NAME}")
        errors.append(_field_error(("command",), problem, True, command, uuid))
    data = body.get("data")
    if isinstance(data, dict):
        ids = data.get("response_ids")
        if isinstance(ids, list) and len(ids) > max_response_ids:
            errors.extend(_field_errors(data, ExportResponsesSystem, top_level=False, command=command, uuid=uuid))
            errors.append(domain_errors.too_many_response_ids(command, uuid, len(ids), max_response_ids))
        else:
            errors.extend(_field_errors(data, ExportResponsesData, top_level=False, command=command, uuid=uuid))
    if errors:
        raise Rejected(CommandResult.reject(uuid, command, domain_errors.capped(errors, max_errors)))
    return ExportResponses(uuid, data["external_system_id"], data["response_ids"])


def _echoed(text: str) -> str:
    """A client's string as errors echo it: cut short, so that a reply cannot be much
    larger than what was sent, however long the string."""
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


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
