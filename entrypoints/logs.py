"""One JSON object a line for every log event, or plain text for a terminal (LOG_FORMAT=text).

Each line has an ISO 8601 UTC timestamp, the level, the logger and the event. A message
that is itself a JSON object (the service logs its events so) is merged into the line;
any other message is the line's "message". An exception's traceback is one string field,
so a multi-line error (a driver's message, a traceback) never spans several lines.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import TextIO

LOG_FORMATS = ("json", "text")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        event = _json_object(message)
        if event is None:
            line["event"] = "message"
            line["message"] = message
        else:
            line.setdefault("event", "message")
            line.update(event)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _json_object(message: str) -> dict | None:
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def formatter(log_format: str = "json") -> logging.Formatter:
    if log_format == "text":
        return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return JsonFormatter()


def configure(log_format: str = "json", stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send every logger's events to `stream` (standard error) in `log_format`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic's per-connection notes ("Context impl SQLiteImpl.") say nothing to an
    # operator, and every process that checks the schema would print them again.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
