"""Strict structuring hooks shared by every edge that reads JSON (HTTP bodies, load files).

cattrs coerces by default ("5" becomes 5, a string becomes a list of characters);
these hooks refuse anything but the JSON type they stand for, raising a Problem that
says what is wrong. `problems` then says where, like cattrs.transform_error.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@attrs.frozen
class Problem(Exception):
    """What is wrong with one value (`code` is stable); the walker adds where it is."""

    code: str
    message: str


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


def integer(value: Any, _kind=None, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    if type(value) is not int:
        raise Problem("invalid_type", f"must be an integer, not {json_type(value)}")
    if not low <= value <= high:
        bounds = "-2^63 to 2^63-1" if (low, high) == (INT64_MIN, INT64_MAX) else f"{low} to {high}"
        raise Problem("integer_out_of_range", f"must be an integer from {bounds}")
    return value


def string(value: Any, _kind=None) -> str:
    if not isinstance(value, str):
        raise Problem("invalid_type", f"must be a string, not {json_type(value)}")
    return value


def command_uuid(value: Any, _kind=None) -> str:
    """A command's uuid, lowercased: in a request body, and in `status --command`."""
    if not _UUID.fullmatch(string(value)):
        raise Problem("invalid_uuid", "must be a UUID such as fea4decf-2efe-4cd6-96b3-f0a4bbeeca78")
    return value.lower()


def boolean(value: Any, _kind=None) -> bool:
    if type(value) is not bool:
        raise Problem("invalid_type", f"must be true or false, not {json_type(value)}")
    return value


def json_object(value: Any, _kind=None) -> dict:
    if not isinstance(value, dict):
        raise Problem("invalid_type", f"must be an object, not {json_type(value)}")
    return value


def integers(value: Any, _kind=None) -> list[int]:
    """A JSON array of integers; every bad item is reported with its index."""
    if not isinstance(value, list):
        raise Problem("invalid_type", f"must be an array of integers, not {json_type(value)}")
    failures = []
    for index, item in enumerate(value):
        try:
            integer(item)
        except Problem as problem:
            problem.__notes__ = [cattrs.IterableValidationNote(f"@ index {index}", index, int)]
            failures.append(problem)
    if failures:
        raise IterableValidationError("While structuring integers", failures, list)
    return value


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
