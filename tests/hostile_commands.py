"""Hostile command bodies for property tests, and the contract every reply must keep.

The strategies put arbitrary JSON (and near misses of the valid values) at each
position of an otherwise valid ExportResponses command. `expected_acceptance` is an
independent model of the contract: whether a document should be accepted, given the
systems and responses that exist.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_module
from typing import Any

from attrs import frozen
from hypothesis import strategies as st

from entrypoints.http.error_codes import CATALOGUE

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ERROR_KEYS = ["status", "code", "title", "detail", "source", "command", "uuid"]
KNOWN_CODES = frozenset(code.code for code in CATALOGUE)
# Written out rather than imported: the model must not share the parser's regex.
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
FIELDS = ("uuid", "command", "data")
DATA_FIELDS = ("external_system_id", "response_ids")

BOUNDARY_INTEGERS = (
    0,
    1,
    -1,
    43,
    2**31 - 1,
    2**31,
    2**53,
    2**53 + 1,
    INT64_MAX,
    INT64_MAX + 1,
    INT64_MIN,
    INT64_MIN - 1,
    2**64,
    -(2**64),
    10**30,
    -(10**30),
)
TRICKY_STRINGS = (
    "",
    " ",
    "ExportResponses",
    "exportresponses",
    "EXPORTRESPONSES",
    " ExportResponses",
    "ExportResponses\n",
    "ExportResponses\x00",
    "null",
    "true",
    "0",
    "43",
    "18",
    "1e3",
    "[]",
    "{}",
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "🙂",
    "Ω",
    "ı",
    "\u202e",
    "\ufeff",
    "a" * 300,
)

# Unicode with lone surrogates: JSON can carry them ("\ud800"), Python decodes them.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(TRICKY_STRINGS)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(BOUNDARY_INTEGERS)
    | st.floats()  # NaN and the infinities too: json.dumps writes them, the server must refuse them
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=10,
)


def _uuid_variants(value: uuid_module.UUID) -> st.SearchStrategy[str]:
    text = str(value)
    return st.sampled_from(
        [
            text,
            text.upper(),
            text + "\n",
            "\n" + text,
            " " + text,
            text + " ",
            text + "\x00",
            "{" + text + "}",
            "urn:uuid:" + text,
            text.replace("-", ""),
            text[:-1],
            text + "0",
            text.replace("a", "g"),
            text.replace("0", "\uff10"),
            text.replace("1", "\u0661"),
        ]
    )


near_uuids = st.uuids().flatmap(_uuid_variants)
near_integers = st.sampled_from(BOUNDARY_INTEGERS) | st.sampled_from([18.0, -0.0, 1e300, True, False, "18"])


@frozen
class Mutation:
    """A command document with something put at (or taken from) one `position`."""

    position: str
    document: Any
    # Where a refusal must point: some error's source is one of these or lies under one.
    # Empty: anywhere (a whole new body).
    sources: tuple[str, ...]


def base_documents(response_ids: st.SearchStrategy[list[int]], system_id: int = 43):
    return st.builds(
        lambda u, ids: {
            "uuid": str(u),
            "command": "ExportResponses",
            "data": {"external_system_id": system_id, "response_ids": ids},
        },
        st.uuids(),
        response_ids,
    )


POSITIONS = (
    "body",
    "uuid",
    "command",
    "data",
    "external_system_id",
    "response_ids",
    "response_ids[i]",
    "extra top-level key",
    "extra data key",
    "missing field",
)


@st.composite
def mutations(draw, response_ids: st.SearchStrategy[list[int]], positions: tuple[str, ...] = POSITIONS) -> Mutation:
    """A valid command with an arbitrary value at one position, a key added, or a key removed."""
    document = draw(base_documents(response_ids))
    data = document["data"]
    position = draw(st.sampled_from(positions))
    sources: tuple[str, ...] = ()
    if position == "body":
        document = draw(json_values)
    elif position == "uuid":
        document["uuid"], sources = draw(json_values | near_uuids), ("/uuid",)
    elif position == "command":
        document["command"], sources = draw(json_values | any_text), ("/command",)
    elif position == "data":
        document["data"], sources = draw(json_values), ("/data", "/external_system_id", "/response_ids")
    elif position == "external_system_id":
        data["external_system_id"], sources = draw(json_values | near_integers), ("/external_system_id",)
    elif position == "response_ids":
        data["response_ids"], sources = draw(json_values), ("/response_ids",)
    elif position == "response_ids[i]":
        index = draw(st.integers(0, len(data["response_ids"]) - 1))
        data["response_ids"][index] = draw(json_values | near_integers)
        sources = ("/response_ids",)  # /response_ids/<index>, or /response_ids for a missing response
    elif position == "extra top-level key":
        document[draw(any_text.filter(lambda key: key not in FIELDS))] = draw(json_values)
    elif position == "extra data key":
        data[draw(any_text.filter(lambda key: key not in DATA_FIELDS))] = draw(json_values)
    else:
        name = draw(st.sampled_from(FIELDS + DATA_FIELDS))
        del (document if name in FIELDS else data)[name]
        sources = (f"/{name}",)
    return Mutation(position, document, sources)


json_content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        " application/json ; x=y",
        "application/json;;;",
        "application/vnd.api+json",
        "application/problem+json",
        "Application/Merge-Patch+JSON",
    ]
)
other_content_types = st.sampled_from(
    [
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch",
        "json",
        "",
        ";",
        "application/xml",
        "*/*",
    ]
)
# Header values are Latin-1 on the wire (WSGI); control characters cannot be sent.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
content_types = st.none() | json_content_types | other_content_types | header_text


def media_type_is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def finite(document: Any) -> bool:
    """Whether `document` is strict JSON: json.dumps writes NaN and Infinity, which JSON has not."""
    if isinstance(document, float):
        return math.isfinite(document)
    if isinstance(document, list):
        return all(finite(item) for item in document)
    if isinstance(document, dict):
        return all(finite(item) for item in document.values())
    return True


def unicode_clean(document: Any) -> bool:
    """Whether every string (keys too) is Unicode text: JSON can escape lone surrogates."""
    if isinstance(document, str):
        return not any(0xD800 <= ord(char) <= 0xDFFF for char in document)
    if isinstance(document, list):
        return all(unicode_clean(item) for item in document)
    if isinstance(document, dict):
        return all(unicode_clean(key) and unicode_clean(value) for key, value in document.items())
    return True


def assert_judged_like_the_model(
    reply, errors: list[dict], mutation: Mutation, systems_exporting: set[int], response_ids: set[int]
) -> None:
    """Accepted exactly when the model accepts; a refusal points at what was changed."""
    where = [(error["code"], error["source"]) for error in errors]
    if not finite(mutation.document):  # NaN or Infinity anywhere: not JSON at all
        assert where == [("invalid_json", "/")], where
        return
    if not unicode_clean(mutation.document) and where == [("invalid_json", "/")]:
        return  # refusing a lone surrogate anywhere as not JSON text is allowed too
    should_accept = expected_acceptance(mutation.document, systems_exporting, response_ids)
    assert (reply.status_code == 202) == should_accept, (mutation.position, reply.status_code, where)
    if errors:
        assert points_at(errors, mutation.sources), (mutation.position, where)


def _int64(value: Any) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def expected_acceptance(
    document: Any, systems_exporting: set[int], response_ids: set[int], max_ids: int = 10_000
) -> bool:
    """Whether the contract accepts `document`: well formed, and every rule satisfied."""
    if not isinstance(document, dict) or not finite(document):
        return False
    data = document.get("data")
    shaped = (
        isinstance(document.get("uuid"), str)
        and CANONICAL_UUID.fullmatch(document["uuid"]) is not None
        and document.get("command") == "ExportResponses"
        and isinstance(data, dict)
        and _int64(data.get("external_system_id"))
        and isinstance(data.get("response_ids"), list)
        and 0 < len(data["response_ids"]) <= max_ids
        and all(_int64(rid) for rid in data["response_ids"])
    )
    return shaped and data["external_system_id"] in systems_exporting and set(data["response_ids"]) <= response_ids


def encode(document: Any) -> bytes:
    # ensure_ascii (the default) writes lone surrogates as \ud800 escapes: still JSON.
    return json.dumps(document).encode()


def accepted_body(command_uuid: str) -> bytes:
    return json.dumps({"status": "accepted", "meta": {}, "uuid": command_uuid.lower()}, separators=(",", ":")).encode()


def assert_contract_reply(reply) -> list[dict]:
    """The reply is a 202 or a 4xx in the error envelope, never a 5xx; the envelope's errors."""
    assert reply.status_code == 202 or 400 <= reply.status_code < 500, f"{reply.status_code}: {reply.content[:500]!r}"
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    document = json.loads(reply.content)
    if reply.status_code == 202:
        assert list(document) == ["status", "meta", "uuid"] and document["status"] == "accepted"
        return []
    assert list(document) == ["status", "uuid", "errors"], document
    assert document["status"] == "not_accepted"
    assert document["uuid"] is None or CANONICAL_UUID.fullmatch(document["uuid"]), document["uuid"]
    errors = document["errors"]
    assert isinstance(errors, list) and errors, document
    for error in errors:
        assert list(error) == ERROR_KEYS, error
        assert error["code"] in KNOWN_CODES, error["code"]
        assert isinstance(error["status"], int)
        assert isinstance(error["source"], str) and error["source"].startswith("/"), error["source"]
        assert isinstance(error["title"], str) and error["title"] and isinstance(error["detail"], str)
        assert error["uuid"] == document["uuid"]
        assert error["command"] is None or isinstance(error["command"], str)
    assert reply.status_code == CATALOGUE.reply_status(errors[0]["code"]), (reply.status_code, errors[0]["code"])
    return errors


def points_at(errors: list[dict], sources: tuple[str, ...]) -> bool:
    """Whether some error's source is one of `sources` or lies under one (any source if none)."""
    return not sources or any(
        error["source"] == source or error["source"].startswith(source + "/") for error in errors for source in sources
    )
