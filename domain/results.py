"""The one error model: every command ends in a CommandResult."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import asdict, field, frozen


@frozen
class CommandError:
    """One reason a command was not accepted.

    `status` is the status the contract prints inside the error object (422 for
    rule violations even though the reply itself is a 400); `source` is a JSON
    pointer into the command's data, or `/uuid`, `/command`, `/` for the body.
    """

    status: int
    code: str
    title: str
    detail: str
    source: str
    command: str | None
    uuid: str | None


def _errors(errors: Iterable[CommandError]) -> tuple[CommandError, ...]:
    return tuple(errors)


@frozen
class CommandResult:
    uuid: str | None
    command: str | None
    accepted: bool
    errors: tuple[CommandError, ...] = field(default=(), converter=_errors)
    meta: dict[str, Any] = field(factory=dict)

    @classmethod
    def accept(cls, uuid: str, command: str, meta: dict[str, Any] | None = None) -> CommandResult:
        return cls(uuid=uuid, command=command, accepted=True, meta=meta or {})

    @classmethod
    def reject(cls, uuid: str | None, command: str | None, errors: Iterable[CommandError]) -> CommandResult:
        errors = tuple(errors)
        if not errors:
            raise ValueError("a rejected command needs at least one error")
        return cls(uuid=uuid, command=command, accepted=False, errors=errors)

    @property
    def codes(self) -> list[str]:
        return [error.code for error in self.errors]


def envelope(result: CommandResult) -> dict[str, Any]:
    """The reply body of the contract, keys in the documented order: what the HTTP
    converter sends and what the command log keeps, to replay byte for byte."""
    if result.accepted:
        return {"status": "accepted", "meta": result.meta, "uuid": result.uuid}
    return {
        "status": "not_accepted",
        "uuid": result.uuid,
        # The seven keys in field order: status, code, title, detail, source, command, uuid.
        "errors": [asdict(error) for error in result.errors],
    }


def result_from_envelope(body: dict[str, Any], command: str) -> CommandResult:
    """Inverse of `envelope`, for replies kept in the command log."""
    if body["status"] == "accepted":
        return CommandResult.accept(body["uuid"], command, body.get("meta") or {})
    return CommandResult.reject(body["uuid"], command, [CommandError(**error) for error in body["errors"]])
