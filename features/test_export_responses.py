"""Binds export_responses.feature; the steps here speak HTTP (the data steps are in conftest)."""

from __future__ import annotations

import json
import re
import uuid

from pytest_bdd import parsers, scenarios, then, when

from features.support import database as db
from features.support.client import Exchange

scenarios("export_responses.feature")

JSON_REQUEST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# What the contract says every reply carries, written out here rather than imported
# from the code under test.
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
SECURITY_HEADERS = {
    "x-frame-options": "SAMEORIGIN",
    "x-xss-protection": "1; mode=block",
    "x-content-type-options": "nosniff",
    "x-download-options": "noopen",
    "x-permitted-cross-domain-policies": "none",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cache-control": "no-cache",
}
RUNTIME = re.compile(r"\d+\.\d{6}")
# `{{"x" * 1048577}}` in a body stands for that many x: a body too big to write out.
REPEAT = re.compile(r'\{\{"(.)" \* (\d+)\}\}')


def expand(body: str) -> bytes:
    return REPEAT.sub(lambda match: match.group(1) * int(match.group(2)), body).encode()


def exchange(client, database, exchanges, method, path, body: bytes, headers) -> Exchange:
    with database.connect() as connection:
        rows_before = db.snapshot(connection)
    reply = client.send(method, path, body, headers)
    exchanges.append(Exchange(method, path, body, headers, rows_before, reply))
    return reply


# --- When -------------------------------------------------------------------------------


@when(parsers.parse('the admin client posts to "{path}":'), target_fixture="reply")
def post_json(client, database, exchanges, path, docstring):
    return exchange(client, database, exchanges, "POST", path, docstring.encode(), JSON_REQUEST_HEADERS)


@when(
    parsers.parse('the admin client sends {method} "{path}" with Content-Type "{content_type}":'),
    target_fixture="reply",
)
def send_raw(client, database, exchanges, method, path, content_type, docstring):
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    return exchange(client, database, exchanges, method, path, expand(docstring), headers)


@when("the admin client sends the same request again", target_fixture="reply")
def send_again(client, database, exchanges):
    last = exchanges[-1]
    return exchange(client, database, exchanges, last.method, last.path, last.body, last.headers)


# --- Then: the reply --------------------------------------------------------------------


@then(parsers.parse("the reply status is {status:d}"))
def reply_status(reply, status):
    assert reply.status == status, reply.body


@then("the reply body is exactly:")
def reply_body(reply, docstring):
    assert reply.body == docstring.encode()


@then("the reply has the headers:")
def reply_headers(reply, datatable):
    expected = {name.lower(): value for name, value in datatable}
    assert {name: reply.headers.get(name) for name in expected} == expected


@then("the reply has an X-Request-Id that is a UUID and an X-Runtime in seconds with 6 decimals")
def request_id_and_runtime(reply):
    assert str(uuid.UUID(reply.headers["x-request-id"])) == reply.headers["x-request-id"]
    assert RUNTIME.fullmatch(reply.headers["x-runtime"]), reply.headers["x-runtime"]


@then("the reply carries the JSON content type, the security headers, an X-Request-Id and an X-Runtime")
def standard_headers(reply):
    assert reply.headers.get("content-type") == JSON_CONTENT_TYPE
    assert {name: reply.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    request_id_and_runtime(reply)


@then(parsers.parse('the reply is a "{status}" envelope whose errors each have exactly the keys {keys}'))
def error_envelope(reply, status, keys):
    body = json.loads(reply.body)
    assert list(body) == ["status", "uuid", "errors"]
    assert body["status"] == status
    assert isinstance(body["errors"], list) and body["errors"], body
    for error in body["errors"]:
        assert list(error) == keys.split(", "), error


@then(parsers.parse('the first error has code "{code}" and source "{source}"'))
def first_error(reply, code, source):
    error = json.loads(reply.body)["errors"][0]
    assert (error["code"], error["source"]) == (code, source), error


@then("the reply is identical to the first reply: status, body bytes and content type")
def identical_replies(reply, exchanges):
    first = exchanges[0].reply
    assert (reply.status, reply.body) == (first.status, first.body)
    assert reply.headers.get("content-type") == first.headers.get("content-type") == JSON_CONTENT_TYPE


@then("the two replies have different X-Request-Ids")
def fresh_request_ids(exchanges):
    first, second = (item.reply.headers["x-request-id"] for item in exchanges[-2:])
    assert first != second
