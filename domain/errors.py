"""The error catalogue: each code declared once, with its statuses and its message.

Codes are stable: clients switch on them. The domain declares the rule codes here;
the HTTP adapter extends this catalogue with the codes of the request's shape and of
the protocol (entrypoints/http/error_codes.py). Rendering, the OpenAPI document and
the README's table all read the extended catalogue, so a code declared nowhere cannot
be sent: `Catalogue.error` and `Catalogue.reply_status` raise UndeclaredCode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from attrs import frozen

from domain.results import CommandError

UNPROCESSABLE = 422


class UndeclaredCode(KeyError):
    """A code that no catalogue declares: a bug, never the client's fault."""


@frozen
class ErrorCode:
    """One error code. `reply_status` is the HTTP status of a reply whose first error
    has this code; `status` is the one printed inside the error object (422 for a rule
    or a field, inside a 400 reply, as the contract has it). `template` is filled with
    str.format from the keyword arguments of `Catalogue.error`; `source` is the JSON
    pointer used when the caller gives none."""

    code: str
    reply_status: int
    status: int
    template: str
    source: str = "/"


@frozen
class Catalogue:
    """Error codes by name; build one with `Catalogue.of` and widen it with `extended`."""

    codes: Mapping[str, ErrorCode]

    @classmethod
    def of(cls, *declared: ErrorCode) -> Catalogue:
        return cls({}).extended(*declared)

    def extended(self, *declared: ErrorCode) -> Catalogue:
        """This catalogue and `declared`; a code declared twice is a bug, raised at once."""
        codes = dict(self.codes)
        for code in declared:
            if code.code in codes:
                raise ValueError(f"error code {code.code!r} is declared twice")
            codes[code.code] = code
        return Catalogue(codes)

    def __getitem__(self, code: str) -> ErrorCode:
        try:
            return self.codes[code]
        except KeyError:
            raise UndeclaredCode(code) from None

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def __iter__(self) -> Iterator[ErrorCode]:
        return iter(self.codes.values())

    def reply_status(self, code: str) -> int:
        return self[code].reply_status

    def error(
        self,
        code: str,
        *,
        source: str | None = None,
        command: str | None = None,
        uuid: str | None = None,
        **facts: Any,
    ) -> CommandError:
        """The error `code` names, its message filled from `facts` (and `command`, `uuid`)."""
        declared = self[code]
        message = declared.template.format(command=command, uuid=uuid, **facts)
        return CommandError(
            status=declared.status,
            code=code,
            title=message,
            detail=message,
            source=declared.source if source is None else source,
            command=command,
            uuid=uuid,
        )


RULES = Catalogue.of(
    ErrorCode(
        "external_system_not_found",
        400,
        UNPROCESSABLE,
        "The external system with an id of {id} was not found",
        "/external_system_id",
    ),
    ErrorCode(
        "external_system_not_exporting_responses",
        400,
        UNPROCESSABLE,
        "The external system with an id of {id} is not enabled for exporting responses",
        "/external_system_id",
    ),
    ErrorCode("response_not_found", 400, UNPROCESSABLE, "A response with an id of {id} was not found", "/response_ids"),
    ErrorCode(
        "too_many_response_ids",
        400,
        UNPROCESSABLE,
        "A command may export at most {limit} responses; this one lists {count}",
        "/response_ids",
    ),
    ErrorCode("too_many_errors", 400, UNPROCESSABLE, "{count} problems in all; only the first {limit} are listed"),
    ErrorCode("uuid_conflict", 409, 409, "The uuid {uuid} was already used by a command with different data", "/uuid"),
)


def capped(errors: list[CommandError] | tuple[CommandError, ...], limit: int) -> list[CommandError]:
    """The first `limit` errors and, when there were more, one that gives the total.

    A reply's size then has a bound whatever the request held (thousands of bad ids).
    """
    if len(errors) <= limit:
        return list(errors)
    first = errors[0]
    too_many = RULES.error("too_many_errors", command=first.command, uuid=first.uuid, count=len(errors), limit=limit)
    return [*errors[:limit], too_many]
