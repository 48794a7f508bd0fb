"""The CCD gateway port: what exporting a response needs from CCD."""

from __future__ import annotations

import abc
from typing import Any

from attrs import field, frozen


class CcdFailure(Exception):
    """CCD could not be asked or did not answer usefully. The message is safe to record:
    it never holds a secret, a token or personal data."""


@frozen
class CcdCase:
    id: int | str
    case_type_id: str
    data: dict[str, Any] = field(factory=dict)

    @property
    def managing_office(self) -> str | None:
        office = self.data.get("managingOffice")
        return office if isinstance(office, str) and office else None


class CcdGateway(abc.ABC):
    @abc.abstractmethod
    def find_latest_case(self, case_type_id: str, case_number: str) -> CcdCase | None:
        """The newest case of `case_type_id` whose ethosCaseReference is `case_number`.

        Raises CcdFailure for anything but an answer; denials are retried once after a
        fresh login inside the gateway, nothing else is.
        """
