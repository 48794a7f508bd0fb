"""prometheus_client's multiprocess mode, for gunicorn's worker processes.

Each process writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape, in
whichever process answers it, adds up the files. The folder must be empty when the
server starts (values of a previous run would be added in), and a process that ended
must be forgotten (its live gauges).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import multiprocess, values

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class MultiprocessDir:
    """The folder of one server's run: the operator's PROMETHEUS_MULTIPROC_DIR, emptied of
    its value files, or a new private one, removed when the server stops."""

    def __init__(self, given: str | None = None):
        if given:
            self.path = Path(given)
            self.path.mkdir(parents=True, exist_ok=True)
            self.made = False
            for leftover in self.path.glob("*.db"):
                leftover.unlink()
        else:
            self.path = Path(tempfile.mkdtemp(prefix="export-responses-metrics-"))
            self.made = True

    def use(self) -> None:
        """Make this process, and the processes it forks, keep their values in the folder."""
        os.environ[ENVIRONMENT_VARIABLE] = str(self.path)
        # prometheus_client picks how values are kept when it is first imported, which
        # may have happened before the variable was set: pick again.
        values.ValueClass = values.get_value_class()

    def remove(self) -> None:
        if self.made:
            shutil.rmtree(self.path, ignore_errors=True)


def keep_in_process() -> None:
    """Keep this process's values in its memory, whatever the environment says: the
    export worker serves its own figures, which an API's folder must not add in twice."""
    os.environ.pop(ENVIRONMENT_VARIABLE, None)
    values.ValueClass = values.get_value_class()


def forget_process(pid: int) -> None:
    """gunicorn's child_exit: the worker process `pid` has ended."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        multiprocess.mark_process_dead(pid)
