"""External systems (the CCD regional systems) that exports are sent to."""

from __future__ import annotations

from collections.abc import Iterable

from attrs import field, frozen


@frozen
class Configuration:
    key: str
    value: str
    can_read: bool = True
    can_write: bool = True


def _codes(values: Iterable[int] | None) -> tuple[int, ...]:
    return tuple(values or ())  # the original's office_codes may be null


@frozen
class ExternalSystem:
    id: int
    name: str
    reference: str
    office_codes: tuple[int, ...] = field(default=(), converter=_codes)
    enabled: bool | None = True  # null in the original's rows means not enabled, as Rails reads it
    export_queue: str | None = "external_system_ccd"
    export_claims: bool = False
    export_responses: bool = False
    export_feedback_queue: str = "default"
    always_save_export: bool = False
    response_remote_office: bool = False
    configurations: tuple[Configuration, ...] = field(default=(), converter=tuple)

    @property
    def accepts_response_exports(self) -> bool:
        return bool(self.enabled) and self.export_responses

    def configuration(self, key: str) -> str | None:
        for entry in self.configurations:
            if entry.key == key:
                return entry.value
        return None
