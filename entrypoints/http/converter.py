"""The one cattrs converter: strict structuring of request bodies into commands.

cattrs coerces by default ("5" becomes 5); the contract is strict, so every type we
accept has a hook that refuses anything but the JSON type it stands for.
"""

from __future__ import annotations

import re
from typing import Any, NewType

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CommandUuid = NewType("CommandUuid", str)
IdList = NewType("IdList", list)
JsonObject = NewType("JsonObject", dict)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@attrs.frozen
class Problem(Exception):
    """What is wrong with one value; the walker below adds where it is."""

    code: str
    message: str


@attrs.frozen
class Envelope:
    uuid: CommandUuid
    command: str
    data: JsonObject


@attrs.frozen
class ExportResponsesData:
    external_system_id: int
    response_ids: IdList


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _integer(value: Any, _type=None) -> int:
    if type(value) is not int:
        raise Problem("invalid_type", f"must be an integer, not {json_type(value)}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise Problem("integer_out_of_range", "must be an integer from -2^63 to 2^63-1")
    return value


def _string(value: Any, _type=None) -> str:
    if not isinstance(value, str):
        raise Problem("invalid_type", f"must be a string, not {json_type(value)}")
    return value


def _command_uuid(value: Any, _type=None) -> str:
    if not _UUID.match(_string(value)):
        raise Problem("invalid_uuid", "must be a UUID such as fea4decf-2efe-4cd6-96b3-f0a4bbeeca78")
    return value.lower()


def _object(value: Any, _type=None) -> dict:
    if not isinstance(value, dict):
        raise Problem("invalid_type", f"must be an object, not {json_type(value)}")
    return value


def _ids(value: Any, _type=None) -> list[int]:
    if not isinstance(value, list):
        raise Problem("invalid_type", f"must be an array of integers, not {json_type(value)}")
    if not value:
        raise Problem("empty_list", "must list at least one id")
    failures = []
    for index, item in enumerate(value):
        try:
            _integer(item)
        except Problem as problem:
            problem.__notes__ = [cattrs.IterableValidationNote(f"@ index {index}", index, int)]
            failures.append(problem)
    if failures:
        raise IterableValidationError("While structuring ids", failures, list)
    return value


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    converter.register_structure_hook(int, _integer)
    converter.register_structure_hook(str, _string)
    converter.register_structure_hook(CommandUuid, _command_uuid)
    converter.register_structure_hook(JsonObject, _object)
    converter.register_structure_hook(IdList, _ids)
    return converter


def problems(error: BaseException, path: tuple = ()) -> list[tuple[tuple, BaseException]]:
    """Flatten a cattrs error tree into (path, leaf error) pairs, like cattrs.transform_error."""
    if not isinstance(error, (ClassValidationError, IterableValidationError)):
        return [(path, error)]
    with_notes, without = error.group_exceptions()
    found = []
    for inner, note in with_notes:
        step = note.name if isinstance(error, ClassValidationError) else note.index
        found.extend(problems(inner, (*path, step)))
    found.extend((path, inner) for inner in without)
    return found
