"""Why an attempt failed: worth retrying, or not until someone fixes something."""

from __future__ import annotations

import enum


class FailureKind(enum.StrEnum):
    # CCD could not be reached or was overloaded: a later attempt may succeed. These
    # count towards the system's circuit breaker.
    TRANSIENT = "transient"
    # Retrying cannot fix it (configuration, a refusal, a reply that breaks CCD's API):
    # the export fails at once, with a message that says what to fix.
    PERMANENT = "permanent"


# CCD's gateway refusing calls beyond the rate it allows: transient, and never charged
# to the export (see domain/throttling.py).
TOO_MANY_REQUESTS = 429
# 401 and 403 may be tokens or credentials being rotated, 408 and 429 are CCD asking
# for patience: the only 4xx answers that a later attempt may not get.
_TRANSIENT_CLIENT_ERRORS = frozenset({401, 403, 408, TOO_MANY_REQUESTS})


def kind_of_status(status: int) -> FailureKind:
    """The kind of failure an HTTP status other than 2xx from CCD is."""
    if 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS:
        return FailureKind.PERMANENT
    return FailureKind.TRANSIENT


def no_case_type_message(system_id: int, reference: str) -> str:
    return (
        f"External system {system_id} ({reference}) has no case_type_id configured: "
        "add one in its configuration, then retry the export"
    )


def response_gone_message(response_id: int) -> str:
    return f"Response {response_id} no longer exists: there is nothing to export"
