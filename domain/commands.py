"""Commands: imperative nouns, frozen values already checked for shape at the edge."""

from __future__ import annotations

import json
from collections.abc import Iterable

from attrs import field, frozen


def _int_tuple(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(values)


@frozen
class ExportResponses:
    """Export each of `response_ids` to the external system `external_system_id`."""

    NAME = "ExportResponses"

    uuid: str
    external_system_id: int
    response_ids: tuple[int, ...] = field(converter=_int_tuple)

    @property
    def name(self) -> str:
        return self.NAME

    def distinct_response_ids(self) -> list[int]:
        """The ids in the order first sent, each once."""
        return list(dict.fromkeys(self.response_ids))

    def fingerprint(self) -> str:
        """Canonical text of what the command asks; two sends of one uuid must match it."""
        return json.dumps(
            {
                "command": self.NAME,
                "data": {
                    "external_system_id": self.external_system_id,
                    "response_ids": list(self.response_ids),
                },
            },
            separators=(",", ":"),
        )
