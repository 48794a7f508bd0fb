"""From request bytes to an ExportResponses command, or the errors that say why not."""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs
import cattrs
import falcon

from application.export_responses import DEFAULT_MAX_ERRORS, DEFAULT_MAX_RESPONSE_IDS
from domain.commands import ExportResponses
from domain.errors import RULES, capped
from domain.results import CommandError, CommandResult
from entrypoints.converter import CONVERTER, ExportResponsesRequest, OversizedRequest
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.strict import Problem, command_uuid, json_type, problems

ECHO_LIMIT = 200  # characters of a client's string that an error repeats
LOG = logging.getLogger("export_responses.http")
_JSON_TYPES = ("application/json",)


@attrs.frozen
class Rejected(Exception):
    """The request cannot become a command; `result` says why."""

    result: CommandResult


def _refuse(code: str, **facts) -> Rejected:
    return Rejected(CommandResult.reject(None, None, [CATALOGUE.error(code, **facts)]))


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
        raise _refuse("unreadable_body") from None
    if len(raw) > limit:
        raise falcon.HTTPContentTooLarge(description=str(limit))
    if req.content_length is not None and len(raw) < req.content_length:
        raise _refuse(
            "incomplete_body",
            reason=f"The request body ended after {len(raw)} of the {req.content_length} bytes"
            " its Content-Length announced",
        )
    return raw


def decode_json(raw: bytes) -> Any:
    def no_constants(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(raw, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise _refuse("invalid_json", reason=error) from None
    except RecursionError:
        raise _refuse("invalid_json", reason="it is nested too deeply") from None


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
        raise _refuse("invalid_body", json_type=json_type(body))
    uuid = _valid_uuid(body.get("uuid"))
    command = _echoed(body.get("command")) if isinstance(body.get("command"), str) else None
    data = body.get("data")
    ids = data.get("response_ids") if isinstance(data, dict) else None
    oversized = isinstance(ids, list) and len(ids) > max_response_ids
    found: list[tuple[tuple, BaseException]] = []
    try:
        request = CONVERTER.structure(body, OversizedRequest if oversized else ExportResponsesRequest)
    except (cattrs.BaseValidationError, Problem) as error:
        found = problems(error)
    # In the contract's order: the body's own fields, the command's name, then the data's.
    errors = [_field_error(path, leaf, command, uuid) for path, leaf in found if not _in_data(path)]
    if command is not None and command != ExportResponses.NAME:
        problem = Problem("unknown_command", f"is {command!r}; this endpoint takes {ExportResponses.NAME}")
        errors.append(_field_error(("command",), problem, command, uuid))
    errors.extend(_field_error(path, leaf, command, uuid) for path, leaf in found if _in_data(path))
    if oversized:
        errors.append(
            RULES.error("too_many_response_ids", command=command, uuid=uuid, count=len(ids), limit=max_response_ids)
        )
    if errors:
        raise Rejected(CommandResult.reject(uuid, command, capped(errors, max_errors)))
    # No errors: the body was structured, and as an ExportResponsesRequest (an oversized one has one).
    return ExportResponses(request.uuid, request.data.external_system_id, request.data.response_ids)


def _in_data(path: tuple) -> bool:
    """Whether `path` points inside `data` (not at `data` itself)."""
    return len(path) > 1 and path[0] == "data"


def _echoed(text: str) -> str:
    """A client's string as errors echo it: cut short, so that a reply cannot be much
    larger than what was sent, however long the string."""
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


def _valid_uuid(value: Any) -> str | None:
    """The command's uuid if it is one, to echo in the errors; else None."""
    try:
        return command_uuid(value)
    except Problem:
        return None


def _field_error(path: tuple, leaf: BaseException, command: str | None, uuid: str | None) -> CommandError:
    # Sources point into `data` (the contract's `/response_ids`), except the top-level
    # fields, which point into the body (`/uuid`, `/command`, `/data`).
    steps = path[1:] if _in_data(path) else path
    source = "/" + "/".join(str(step) for step in steps)
    name = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    if isinstance(leaf, Problem):
        return CATALOGUE.error(leaf.code, source=source, command=command, uuid=uuid, field=name, problem=leaf.message)
    if isinstance(leaf, KeyError):
        return CATALOGUE.error("missing_field", source=source, command=command, uuid=uuid, field=name)
    # A failure our hooks did not foresee: still the client's input.
    return CATALOGUE.error("invalid_value", source=source, command=command, uuid=uuid, field=name)
