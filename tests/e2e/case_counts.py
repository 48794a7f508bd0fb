"""How many cases schemathesis sent per operation and database, printed at the end of the session."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

PLUGIN_NAME = "schemathesis-case-counts"


def database_kind(database_url: str) -> str:
    return database_url.split(":", 1)[0].split("+", 1)[0]


class CaseCounts:
    """A pytest plugin: counts replies by status, and reports them in the terminal summary."""

    def __init__(self):
        self.statuses: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self.modes: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self.seconds: dict[str, float] = {}

    @classmethod
    def registered(cls, config: pytest.Config) -> CaseCounts:
        counts = config.pluginmanager.get_plugin(PLUGIN_NAME)
        if counts is None:
            counts = cls()
            config.pluginmanager.register(counts, PLUGIN_NAME)
        return counts

    def record(self, database: str, operation: str, mode: str, status: int) -> None:
        self.statuses[(database, operation)][status] += 1
        self.modes[(database, operation)][mode] += 1

    def took(self, database: str, seconds: float) -> None:
        self.seconds[database] = seconds

    def lines(self) -> list[str]:
        lines = []
        for database in dict.fromkeys(database for database, _ in self.statuses):
            counted = {operation: statuses for (db, operation), statuses in self.statuses.items() if db == database}
            total = sum(sum(statuses.values()) for statuses in counted.values())
            took = f" in {self.seconds[database]:.1f} s" if database in self.seconds else ""
            lines.append(f"{database}: {total} cases{took}")
            for operation, statuses in counted.items():
                by_mode = ", ".join(
                    f"{mode} {count}" for mode, count in sorted(self.modes[(database, operation)].items())
                )
                by_status = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
                lines.append(f"  {operation}: {sum(statuses.values())} ({by_mode}; {by_status})")
        return lines

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.statuses:
            terminalreporter.write_sep("-", "schemathesis cases per operation")
            for line in self.lines():
                terminalreporter.write_line(line)
