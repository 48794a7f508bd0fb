"""Rows from domain values by one cattrs converter: a table's columns are the value's fields.

Enums become their values; strings, numbers and JSON dicts stay as they are. A column
the value has no field for (a key, a timestamp) is given beside it.
"""

from __future__ import annotations

from typing import Any

import cattrs

_CONVERTER = cattrs.Converter()


def row(value: Any, **columns: Any) -> dict[str, Any]:
    """The columns of `value`'s fields, and `columns`."""
    return {**_CONVERTER.unstructure(value), **columns}
