"""When a request has arrived, read from its bytes as they come, a few at a time."""

from __future__ import annotations

import pytest

from entrypoints.http.request_inbox import Arrival, RequestInbox

HEAD = b"POST /api/v2/exports/export_responses HTTP/1.1\r\nHost: x\r\n"


def fed_bytewise(data: bytes, max_body: int = 1024) -> list[Arrival]:
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=max_body)
    return [inbox.feed(data[i : i + 1]) for i in range(len(data))]


def test_a_request_without_a_body_arrives_with_the_end_of_its_headers():
    states = fed_bytewise(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert states[-1] is Arrival.ARRIVED and set(states[:-1]) == {Arrival.WAITING_FOR_HEADERS}


def test_a_body_of_known_length_arrives_with_its_last_byte():
    states = fed_bytewise(HEAD + b"Content-Length: 5\r\n\r\nhello")
    assert states[-1] is Arrival.ARRIVED
    assert states[-6:-1] == [Arrival.WAITING_FOR_BODY] * 5


def test_a_chunked_body_arrives_with_its_last_chunk_and_trailers():
    body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: y\r\n\r\n"
    states = fed_bytewise(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert states[-1] is Arrival.ARRIVED and Arrival.ARRIVED not in states[:-1]


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nabc\r\n", b"-5\r\nabc\r\n", b"2\r\nabcdef\r\n", b"1" * 5000, b"3;\x00\r\nabc\r\n", b"\r\n"],
    ids=["not hex", "negative", "longer than announced", "endless size line", "bad extension", "no size"],
)
def test_malformed_chunking_is_refused_without_waiting_for_more(body):
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=1024)
    assert inbox.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body) is Arrival.MALFORMED
    assert inbox.problem


@pytest.mark.parametrize(
    "headers, arrival",
    [
        (b"Content-Length: 5\r\nContent-Length: 6\r\n", Arrival.MALFORMED),
        (b"Content-Length: -1\r\n", Arrival.MALFORMED),
        (b"Content-Length: 1" + b"0" * 30 + b"\r\n", Arrival.MALFORMED),
        (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", Arrival.MALFORMED),
        (b"No colon here\r\n", Arrival.MALFORMED),
        (b"Transfer-Encoding: gzip\r\n", Arrival.UNSUPPORTED_CODING),
        (b"Transfer-Encoding: gzip, chunked\r\n", Arrival.UNSUPPORTED_CODING),
        (b"Content-Length: 1025\r\n", Arrival.BODY_TOO_LARGE),
    ],
    ids=[
        "two lengths",
        "negative length",
        "huge length",
        "length and chunked",
        "no colon",
        "unknown coding",
        "two codings",
        "over the body limit",
    ],
)
def test_a_body_whose_end_cannot_be_awaited_is_refused_at_the_end_of_the_headers(headers, arrival):
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=1024)
    assert inbox.feed(HEAD + headers + b"\r\n") is arrival


def test_chunks_adding_up_to_more_than_the_limit_are_refused_as_they_are_announced():
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=1024)
    assert (
        inbox.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"200\r\n" + b"a" * 512 + b"\r\n")
        is Arrival.WAITING_FOR_BODY
    )
    assert inbox.feed(b"201\r\n") is Arrival.BODY_TOO_LARGE
    assert (
        RequestInbox(2048, 1024).feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\nFFFFFF\r\n") is Arrival.BODY_TOO_LARGE
    )


def test_headers_longer_than_the_parser_takes_are_refused_without_waiting():
    inbox = RequestInbox(max_header_bytes=100, max_body_bytes=1024)
    assert inbox.feed(HEAD + b"X-Long: " + b"y" * 200) is Arrival.HEADERS_TOO_LARGE


def test_an_expect_continue_request_is_noticed():
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=1024)
    assert inbox.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n") is Arrival.WAITING_FOR_BODY
    assert inbox.expects_continue and inbox.feed(b"abc") is Arrival.ARRIVED


def test_a_pipelined_request_behind_a_complete_one_does_not_delay_it():
    inbox = RequestInbox(max_header_bytes=2048, max_body_bytes=1024)
    assert inbox.feed(b"GET /health HTTP/1.1\r\n\r\nGET /hea") is Arrival.ARRIVED
