"""The CCD gateway port: what exporting a response needs from CCD."""

from __future__ import annotations

import abc
from typing import Any

from attrs import field, frozen

from domain.failures import FailureKind


class CcdFailure(Exception):
    """CCD could not be asked or did not answer usefully. The message is safe to record
    and to log: it never holds a secret, a token, a URL or personal data. `kind` says
    whether a later attempt may succeed (transient) or the export should fail now."""

    def __init__(self, message: str, kind: FailureKind = FailureKind.TRANSIENT):
        super().__init__(message)
        self.kind = kind


class CcdRateLimited(CcdFailure):
    """CCD refused the call for going beyond the rate it allows (429): transient, and
    never the export's fault. `retry_after` is how long CCD asked the caller to wait, in
    seconds, bounded (`domain.throttling.bounded_retry_after`)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message, FailureKind.TRANSIENT)
        self.retry_after = retry_after


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
        """The newest case of `case_type_id` whose ethosCaseReference is `case_number`;
        for an empty `case_number`, None (no case has an empty reference).

        Raises CcdFailure for anything but an answer, transient or permanent as
        `domain.failures` sorts them, and CcdRateLimited for a 429; denials are retried once after a fresh login
        inside the gateway (a second denial is transient), nothing else is.
        """
