"""The one parser of numbers given as text: settings, CCD timeouts, command-line arguments.

Each caller says what it accepts (whole or not, zero allowed or not, an upper bound, the
unit) and puts the name of what it reads in front of the message: "CCD_READ_TIMEOUT must
be more than 0 seconds, not '0'", "argument --concurrency: must be at least 1, not '0'".
"""

from __future__ import annotations

import math


def parse_number(
    text: str, *, whole: bool = False, zero: bool = False, most: float | None = None, unit: str = ""
) -> float:
    """The number `text` spells, if in range; ValueError("must be ..., not 'text'") if not.

    The range is above 0 (from 0 with `zero`), up to `most` if given; never infinite or NaN.
    A whole number comes back as an int.
    """
    of_unit = f" {unit}" if unit else ""
    try:
        value: float = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"must be {kind}{' of ' + unit if unit else ''}, not {text!r}") from None
    low_ok = value >= 0 if zero else value > 0
    if not (low_ok and math.isfinite(value) and (most is None or value <= most)):
        raise ValueError(f"must be {_range(whole, zero, most)}{of_unit}, not {text.strip()}")
    return value


def parse_whole(text: str, *, zero: bool = False, most: int | None = None, unit: str = "") -> int:
    """`parse_number` for whole numbers, typed as such."""
    return int(parse_number(text, whole=True, zero=zero, most=most, unit=unit))


def _range(whole: bool, zero: bool, most: float | None) -> str:
    if zero and most is not None:
        return f"from 0 to {most:g}"
    low = "0 or more" if zero else ("at least 1" if whole else "more than 0")
    return low if most is None else f"{low} and at most {most:g}"
