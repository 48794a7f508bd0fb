"""The one parser of numbers given as text: what each caller accepts, and what it says otherwise."""

from __future__ import annotations

import pytest

from domain.numbers import parse_number, parse_whole


@pytest.mark.parametrize(
    "text, accepted, value",
    [("2.5", {}, 2.5), ("7", {"whole": True}, 7), ("0", {"zero": True}, 0.0), ("3600", {"most": 3600}, 3600.0)],
)
def test_a_number_in_range_is_returned(text, accepted, value):
    assert parse_number(text, **accepted) == value


@pytest.mark.parametrize(
    "text, accepted, message",
    [
        ("soon", {"unit": "seconds"}, "must be a number of seconds, not 'soon'"),
        ("1.5", {"whole": True}, "must be a whole number, not '1.5'"),
        ("0", {"unit": "seconds"}, "must be more than 0 seconds, not 0"),
        ("0", {"whole": True}, "must be at least 1, not 0"),
        ("-1", {"zero": True, "unit": "seconds"}, "must be 0 or more seconds, not -1"),
        ("3601", {"most": 3600, "unit": "seconds"}, "must be more than 0 and at most 3600 seconds, not 3601"),
        ("-1", {"whole": True, "zero": True, "most": 10}, "must be from 0 to 10, not -1"),
        ("inf", {}, "must be more than 0, not inf"),
        ("nan", {}, "must be more than 0, not nan"),
    ],
)
def test_anything_else_says_what_is_accepted(text, accepted, message):
    with pytest.raises(ValueError) as raised:
        parse_number(text, **accepted)
    assert str(raised.value) == message


def test_a_whole_number_comes_back_as_an_int():
    assert type(parse_whole("12")) is int
