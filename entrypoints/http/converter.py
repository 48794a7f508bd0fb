"""The HTTP adapter's cattrs converter: request bodies into commands, strictly."""

from __future__ import annotations

from typing import Any, NewType

import attrs
import cattrs

from entrypoints.strict import Problem, command_uuid, integer, integers, json_object, string

CommandUuid = NewType("CommandUuid", str)
IdList = NewType("IdList", list)
JsonObject = NewType("JsonObject", dict)


@attrs.frozen
class Envelope:
    uuid: CommandUuid
    command: str
    data: JsonObject


@attrs.frozen
class ExportResponsesData:
    external_system_id: int
    response_ids: IdList


@attrs.frozen
class ExportResponsesSystem:
    """The data but its ids: what is checked when there are too many ids to check each."""

    external_system_id: int


def _ids(value: Any, _kind=None) -> list[int]:
    if isinstance(value, list) and not value:
        raise Problem("empty_list", "must list at least one id")
    return integers(value)


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    converter.register_structure_hook(int, integer)
    converter.register_structure_hook(str, string)
    converter.register_structure_hook(CommandUuid, command_uuid)
    converter.register_structure_hook(JsonObject, json_object)
    converter.register_structure_hook(IdList, _ids)
    return converter
