"""Reading exports over HTTP: one export with its events, and filtered pages of exports."""

from __future__ import annotations

import re
from typing import Any

import falcon
from falcon import uri

from application.export_status import DEFAULT_PER_PAGE, MAX_PER_PAGE, ExportFilters, ExportReader
from domain.exports import ExportState
from domain.results import CommandError, CommandResult
from entrypoints.converter import CONVERTER
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.parsing import Rejected
from entrypoints.http.rendering import JSON, body_bytes, render
from entrypoints.strict import INT64_MAX, INT64_MIN, Problem, command_uuid

EXPORTS_PATH = "/api/v2/exports"
EXPORT_PATH = "/api/v2/exports/{export_id:id}"
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only; matched whole (fullmatch)
_STATES = ", ".join(state.value for state in ExportState)


class IdConverter(falcon.routing.BaseConverter):
    """An id in a path: an optional minus and ASCII digits. (Falcon's `int` converter,
    like int(), also takes "1_0", "+1" and digits of other scripts, such as "١".)"""

    def convert(self, value: str) -> int | None:
        return int(value) if _INTEGER.fullmatch(value) else None


class ExportResource:
    def __init__(self, reader: ExportReader):
        self.reader = reader

    def on_get(self, req: falcon.Request, resp: falcon.Response, export_id: int) -> None:
        # An id outside BIGINT cannot exist; asking the database would only make it fail.
        found = self.reader.get(export_id) if INT64_MIN <= export_id <= INT64_MAX else None
        if found is None:
            render(resp, CommandResult.reject(None, None, [CATALOGUE.error("export_not_found", id=export_id)]))
            return
        _reply(resp, CONVERTER.unstructure(found))


class ExportListResource:
    def __init__(self, reader: ExportReader):
        self.reader = reader

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = Query(uri.parse_query_string(req.query_string, keep_blank=True))
        filters = ExportFilters(
            response_id=query.value("response_id", _int64),
            external_system_id=query.value("external_system_id", _int64),
            state=query.value("state", _state),
            command_uuid=query.value("command_uuid", _uuid),
        )
        page = query.value("page", _at_least_one, default=1)
        per_page = query.value("per_page", _per_page, default=DEFAULT_PER_PAGE)
        query.raise_problems()
        _reply(resp, CONVERTER.unstructure(self.reader.find(filters, page, per_page)))


class Query:
    """The query string's parameters, read one by one; every problem is kept to report at once."""

    def __init__(self, params: dict[str, str | list[str]]):
        self.params = params
        self.errors: list[CommandError] = []

    def value(self, name: str, parse, default=None) -> Any:
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            if isinstance(raw, list):
                raise Problem("invalid_query_parameter", "must be given once")
            return parse(raw)
        except Problem as problem:
            self.errors.append(
                CATALOGUE.error("invalid_query_parameter", source=f"/{name}", field=name, problem=problem.message)
            )
            return default

    def raise_problems(self) -> None:
        if self.errors:
            raise Rejected(CommandResult.reject(None, None, self.errors))


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise Problem("invalid_query_parameter", f"must be an integer, not {text!r}")
    return int(text)


def _int64(text: str) -> int:
    value = _integer(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise Problem("invalid_query_parameter", "must be an integer from -2^63 to 2^63-1")
    return value


def _at_least_one(text: str) -> int:
    value = _int64(text)
    if value < 1:
        raise Problem("invalid_query_parameter", f"must be at least 1, not {value}")
    return value


def _per_page(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= MAX_PER_PAGE:
        raise Problem("invalid_query_parameter", f"must be from 1 to {MAX_PER_PAGE}, not {value}")
    return value


def _state(text: str) -> ExportState:
    try:
        return ExportState(text)
    except ValueError:
        raise Problem("invalid_query_parameter", f"must be one of {_STATES}, not {text!r}") from None


def _uuid(text: str) -> str:
    try:
        return command_uuid(text)
    except Problem as problem:
        raise Problem("invalid_query_parameter", problem.message) from None


def _reply(resp: falcon.Response, document: dict) -> None:
    resp.status = 200
    resp.content_type = JSON
    resp.data = body_bytes(document)
