"""What a section of the benchmark measures with: one database, the run's options, and
the servers, started the first time a section asks for them and kept up for the others."""

from __future__ import annotations

import contextlib
from pathlib import Path

from attrs import define, field, frozen

from bench import bare_driver, data, measures
from bench.processes import ceiling, service
from tests.postgres import free_port


@frozen
class Options:
    seconds: int  # wrk's duration of a short run (whole seconds: wrk takes no fractions)
    pairs: int  # pairs of runs per scenario
    quick: bool  # a smoke run: the smallest settings of each section


@define
class Context:
    kind: str  # "sqlite" or "postgresql"
    url: str
    folder: Path
    options: Options
    _servers: contextlib.ExitStack = field(factory=contextlib.ExitStack)
    _bases: dict[str, str] = field(factory=dict)
    _script: bare_driver.Script | None = None

    def service(self) -> str:
        """The base URL of `serve` on this database (as the service runs by default)."""
        if "service" not in self._bases:
            self._bases["service"] = self._servers.enter_context(service(self.url, free_port(), self.folder))
            measures.warm_up(self._bases["service"])
        return self._bases["service"]

    def ceiling(self) -> str:
        """The base URL of the bare Falcon app under the same gunicorn settings."""
        if "ceiling" not in self._bases:
            self._bases["ceiling"] = self._servers.enter_context(ceiling(free_port(), self.folder))
            measures.warm_up(self._bases["ceiling"])
        return self._bases["ceiling"]

    def accepted_script(self) -> bare_driver.Script:
        """One real accepted command's statements on this database, captured once."""
        if self._script is None:
            self._script = bare_driver.capture(self.url, data.CAPTURE_ID)
        return self._script

    def close(self) -> None:
        self._servers.close()
