"""The `load` file: strict parsing of its JSON into the records the loader writes.

The file is `{"external_systems": [...], "responses": [...]}` (both keys optional).
Nothing is coerced ("5" is not an integer, a string is not a list) and unknown keys are
refused, so a typo cannot be dropped silently. Every problem is collected, each named
by its record, e.g. `responses[3] (id 42): respondent.name is required`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override

from application.loading import (
    Dataset,
    ExternalSystemRecord,
    RepresentativeRecord,
    RespondentRecord,
    ResponseRecord,
)
from domain.external_systems import Configuration
from entrypoints.strict import Problem, boolean, integer, integers, json_object, json_type, problems, string

COLLECTIONS = {"external_systems": ExternalSystemRecord, "responses": ResponseRecord}
INT32_MAX = 2**31 - 1
_RESPONSE_REFERENCE = re.compile(r"[0-9]{12}")


class BadLoadFile(Exception):
    """The file cannot be loaded; `problems` says why, one line each."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@attrs.frozen
class SecretConfiguration:
    """A configuration given as an object: for secrets, which the admin cannot read back."""

    value: str
    can_read: bool = False
    can_write: bool = True


def read_load_file(path: Path) -> Dataset:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadLoadFile([f"cannot read {path}: {error.strerror or error}"]) from None
    return parse_load_file(raw, str(path))


def parse_load_file(raw: bytes, name: str = "the file") -> Dataset:
    """The dataset in `raw`, or BadLoadFile listing every problem found in it."""
    document = _decode(raw, name)
    if not isinstance(document, dict):
        raise BadLoadFile(
            [f"{name} must hold a JSON object with external_systems and responses, not {json_type(document)}"]
        )
    found = [
        f"{key} is not a known top-level key (expected {' or '.join(COLLECTIONS)})"
        for key in document
        if key not in COLLECTIONS
    ]
    converter = make_converter()
    collections = {}
    for collection in COLLECTIONS:
        collections[collection], problems_in_collection = _collection(converter, collection, document)
        found += problems_in_collection
    if found:
        raise BadLoadFile(found)
    return Dataset(**collections)


def label(collection: str, index: int, record_id: Any = None) -> str:
    """How a message names a record: `responses[3] (id 42)`."""
    known_id = f" (id {record_id})" if type(record_id) is int else ""
    return f"{collection}[{index}]{known_id}"


def _decode(raw: bytes, name: str) -> Any:
    def no_constants(constant):
        raise ValueError(f"{constant} is not valid JSON")

    try:
        return json.loads(raw, parse_constant=no_constants, object_pairs_hook=_refuse_repeated_keys)
    except UnicodeDecodeError:
        raise BadLoadFile([f"{name} is not valid JSON: it is not UTF-8 text"]) from None
    except ValueError as error:
        raise BadLoadFile([f"{name} is not valid JSON: {error}"]) from None
    except RecursionError:
        raise BadLoadFile([f"{name} is not valid JSON: it is nested too deeply"]) from None


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
    repeated = [key for key, count in Counter(key for key, _value in pairs).items() if count > 1]
    if repeated:
        raise ValueError(f"the key {repeated[0]!r} appears twice in one object")
    return dict(pairs)


def _collection(converter: cattrs.Converter, collection: str, document: dict) -> tuple[tuple, list[str]]:
    records, found = _structure_all(converter, collection, document.get(collection, []))
    found += _duplicates(collection, records, "id") + _duplicates(collection, records, "reference")
    return tuple(record for _index, record in records), found


def _structure_all(converter, collection: str, raw: Any) -> tuple[list[tuple[int, Any]], list[str]]:
    if not isinstance(raw, list):
        return [], [f"{collection} must be an array, not {json_type(raw)}"]
    records, found = [], []
    for index, item in enumerate(raw):
        try:
            records.append((index, converter.structure(item, COLLECTIONS[collection])))
        except (cattrs.BaseValidationError, Problem) as error:
            where = label(collection, index, item.get("id") if isinstance(item, dict) else None)
            found += [f"{where}: {message}" for path, leaf in problems(error) for message in _describe(path, leaf)]
    return records, found


def _describe(path: tuple, error: BaseException) -> list[str]:
    where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    if isinstance(error, ForbiddenExtraKeysError):
        return [f"{where + '.' if where else ''}{key} is not a known field" for key in sorted(error.extra_fields)]
    if isinstance(error, KeyError):
        return [f"{where} is required"]
    if isinstance(error, Problem):
        return [f"{where} {error.message}".strip()]
    raise error  # a bug in a hook, not a problem in the file


def _duplicates(collection: str, records: list[tuple[int, Any]], field: str) -> list[str]:
    first_index = {}
    found = []
    for index, record in records:
        value = getattr(record, field)
        if value in first_index:
            where = label(collection, index, record.id)
            found.append(f"{where}: {field} {value} is also used by {collection}[{first_index[value]}]")
        first_index.setdefault(value, index)
    return found


# --- the converter: one strict hook per type the file may hold ---


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    for kind, hook in (
        (str, string),
        (bool, boolean),
        (int, integer),
        (date, _date),
        (datetime, _datetime),
        (Decimal, _decimal(38, 2)),
    ):
        converter.register_structure_hook(kind, hook)
    # Generic types are matched by equality: singledispatch only takes classes.
    converter.register_structure_hook_func(lambda kind: kind == tuple[int, ...], _integer_tuple)
    converter.register_structure_hook_func(lambda kind: kind == tuple[Configuration, ...], _configurations(converter))
    _register_record(converter, SecretConfiguration)
    _register_record(
        converter,
        ExternalSystemRecord,
        id=_row_id,
        name=_text,
        reference=_text,
        export_queue=_text,
        export_feedback_queue=_text,
    )
    _register_record(
        converter,
        RespondentRecord,
        name=_text,
        organisation_employ_gb=_optional(_int32),
        employment_at_site_number=_optional(_int32),
    )
    _register_record(converter, RepresentativeRecord, name=_text)
    _register_record(
        converter,
        ResponseRecord,
        id=_row_id,
        reference=_response_reference,
        case_number=_text,
        claimants_name=_text,
        queried_hours=_optional(_decimal(8, 2)),
        queried_pay_before_tax=_optional(_decimal(10, 2)),
    )
    return converter


def _register_record(converter: cattrs.Converter, record_type: type, **field_hooks: Callable) -> None:
    overrides = {name: override(struct_hook=hook) for name, hook in field_hooks.items()}
    structure = make_dict_structure_fn(record_type, converter, _cattrs_forbid_extra_keys=True, **overrides)
    converter.register_structure_hook(record_type, lambda value, kind: structure(json_object(value), kind))


def _optional(hook: Callable) -> Callable:
    return lambda value, kind=None: None if value is None else hook(value, kind)


def _text(value: Any, _kind=None) -> str:
    if not string(value).strip():
        raise Problem("blank", "must not be blank")
    return value


def _int32(value: Any, _kind=None) -> int:
    return integer(value, low=-INT32_MAX - 1, high=INT32_MAX)


def _row_id(value: Any, _kind=None) -> int:
    return integer(value, low=1)


def _response_reference(value: Any, _kind=None) -> str:
    if not _RESPONSE_REFERENCE.fullmatch(string(value)):
        raise Problem("invalid_reference", "must be 12 digits, the first two an office code, e.g. 242000000100")
    return value


def _decimal(precision: int, scale: int) -> Callable:
    limit = Decimal(10) ** (precision - scale)

    def structure(value: Any, _kind=None) -> Decimal:
        if type(value) not in (int, float):
            raise Problem("invalid_type", f"must be a number, not {json_type(value)}")
        number = Decimal(str(value))
        if not number.is_finite() or abs(number) >= limit:
            raise Problem("number_out_of_range", f"must be a number between -{limit} and {limit}")
        if number != number.quantize(Decimal(1).scaleb(-scale)):
            raise Problem("too_precise", f"must have at most {scale} decimal places")
        return number

    return structure


def _date(value: Any, _kind=None) -> date:
    try:
        return date.fromisoformat(string(value))
    except ValueError:
        raise Problem("invalid_date", "must be a date such as 2024-01-31") from None


def _datetime(value: Any, _kind=None) -> datetime:
    try:
        moment = datetime.fromisoformat(string(value))
    except ValueError:
        raise Problem("invalid_datetime", "must be a date and time such as 2024-01-31T09:30:00Z") from None
    # A time without an offset is taken to be UTC, as the original stored every time.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _configurations(converter: cattrs.Converter) -> Callable:
    def structure(value: Any, _kind=None) -> tuple[Configuration, ...]:
        entries, failures = [], []
        for key, setting in json_object(value).items():
            try:
                entries.append(_configuration(converter, key, setting))
            except (cattrs.BaseValidationError, Problem) as error:
                error.__notes__ = [cattrs.IterableValidationNote(f"@ key {key!r}", key, str)]
                failures.append(error)
        if failures:
            raise IterableValidationError("While structuring configurations", failures, dict)
        return tuple(entries)

    return structure


def _configuration(converter: cattrs.Converter, key: str, setting: Any) -> Configuration:
    if isinstance(setting, str):
        return Configuration(key, setting)
    if isinstance(setting, dict):
        secret = converter.structure(setting, SecretConfiguration)
        return Configuration(key, secret.value, secret.can_read, secret.can_write)
    raise Problem(
        "invalid_type", f"must be a string, or an object with value, can_read and can_write, not {json_type(setting)}"
    )


def _integer_tuple(value: Any, _kind=None) -> tuple[int, ...]:
    return tuple(integers(value))
