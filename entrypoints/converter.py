"""The one cattrs converter of the entry points: request bodies into values, strictly, and
values into reply bodies, keys in the contract's order (the API's replies, the CLI's
--json output and the worker's log timestamps all come from it).

The request's values (`ExportResponsesRequest`) mirror the JSON the contract documents;
reply bodies follow the attrs field order of the values they come from (ExportView,
EventView, SystemView, CommandError), which is the contract's order, and the tests pin the bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from application.export_status import ExportPage, ExportView
from application.system_status import SystemView
from domain.results import CommandResult, envelope
from entrypoints.strict import Problem, command_uuid, integer, integers, json_object, string

CommandUuid = NewType("CommandUuid", str)
IdList = NewType("IdList", list)


@attrs.frozen
class ExportResponsesData:
    external_system_id: int
    response_ids: IdList


@attrs.frozen
class ExportResponsesRequest:
    """The body of POST /api/v2/exports/export_responses; other top-level keys are ignored."""

    uuid: CommandUuid
    command: str
    data: ExportResponsesData


@attrs.frozen
class SystemOnlyData:
    """The data but its ids: what is checked when there are too many ids to check each."""

    external_system_id: int


@attrs.frozen
class OversizedRequest:
    """A body listing more ids than a command may: its ids are counted, never checked."""

    uuid: CommandUuid
    command: str
    data: SystemOnlyData


def _ids(value: Any, _kind=None) -> list[int]:
    if isinstance(value, list) and not value:
        raise Problem("empty_list", "must list at least one id")
    return integers(value)


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, always with microseconds: 2026-01-01T12:00:00.123456Z."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _object_of(cls: type, converter: cattrs.Converter) -> None:
    """Structure `cls` only from a JSON object (cattrs would try any mapping-like value)."""
    structure = make_dict_structure_fn(cls, converter)
    converter.register_structure_hook(cls, lambda value, _kind: structure(json_object(value), cls))


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    converter.register_structure_hook(int, integer)
    converter.register_structure_hook(str, string)
    converter.register_structure_hook(CommandUuid, command_uuid)
    converter.register_structure_hook(IdList, _ids)
    for cls in (ExportResponsesData, SystemOnlyData):
        _object_of(cls, converter)
    converter.register_unstructure_hook(datetime, timestamp)
    # The envelope's two shapes are the command log's stored form too (domain.results).
    converter.register_unstructure_hook(CommandResult, envelope)
    summary = make_dict_unstructure_fn(ExportView, converter, events=override(omit=True))
    converter.register_unstructure_hook(
        ExportPage,
        lambda page: {
            "exports": [summary(export) for export in page.exports],
            "meta": {"page": page.page, "per_page": page.per_page, "total": page.total},
        },
    )
    system = make_dict_unstructure_fn(SystemView, converter)

    def system_body(view: SystemView) -> dict[str, Any]:
        fields = system(view)
        head = {name: fields.pop(name) for name in ("id", "name", "reference")}
        return {**head, "paused": view.paused, **fields}  # `paused` is a property, not a field

    converter.register_unstructure_hook(SystemView, system_body)
    return converter


CONVERTER = make_converter()
