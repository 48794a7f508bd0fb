"""An in-memory CCD gateway: cases in a dict, failures scripted by the test."""

from __future__ import annotations

import threading

from application.ccd import CcdCase, CcdFailure, CcdGateway, CcdRateLimited
from domain.failures import FailureKind

OUTAGE_MESSAGE = "could not connect to CCD auth (service token lease)"


class InMemoryCcdGateway(CcdGateway):
    def __init__(self) -> None:
        self.cases: dict[tuple[str, str], list[CcdCase]] = {}
        self.failures: list[CcdFailure] = []
        self.calls: list[tuple[str, str]] = []
        self.down = False  # while set, every call fails as if CCD refused connections
        self._lock = threading.Lock()

    def add_case(
        self, case_type_id: str, case_number: str, case_id: int, managing_office: str | None = None
    ) -> CcdCase:
        case = CcdCase(case_id, case_type_id, {"ethosCaseReference": case_number, "managingOffice": managing_office})
        self.cases.setdefault((case_type_id, case_number), []).insert(0, case)
        return case

    def fail_next(self, *messages: str, kind: FailureKind = FailureKind.TRANSIENT) -> None:
        """The next calls fail with these messages, one each."""
        self.failures.extend(CcdFailure(message, kind) for message in messages)

    def refuse_next(self, *retry_afters: float) -> None:
        """The next calls are refused with 429, each asking to wait so many seconds."""
        self.failures.extend(
            CcdRateLimited(f"CCD data store answered 429 (too many requests, Retry-After {wait:g} s)", wait)
            for wait in retry_afters
        )

    def find_latest_case(self, case_type_id: str, case_number: str) -> CcdCase | None:
        with self._lock:
            self.calls.append((case_type_id, case_number))
            if self.down:
                raise CcdFailure(OUTAGE_MESSAGE)
            if self.failures:
                raise self.failures.pop(0)
        found = self.cases.get((case_type_id, case_number))
        return found[0] if found else None
