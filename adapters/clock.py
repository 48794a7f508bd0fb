"""Clocks: the system's, and a fixed one for tests and reproducible runs."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from application.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


@attrs.define
class FixedClock(Clock):
    at: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at
