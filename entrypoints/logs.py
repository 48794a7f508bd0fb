"""One JSON object a line for every log event, or plain text for a terminal (LOG_FORMAT=text).

Each line has an ISO 8601 UTC timestamp, the level, the logger and the event. A message
that is itself a JSON object (the service logs its events so) is merged into the line;
any other message is the line's "message". An `Event` is such a message that keeps its
fields, so that a hot path's line is neither encoded twice nor decoded to be merged. An exception's traceback is one string field,
so a multi-line error (a driver's message, a traceback) never spans several lines.

A line logged while a request is served carries its `request_id`, whichever module
logged it: the HTTP middleware sets `REQUEST_ID` (a context variable, so each of a
worker's threads has its own) and the formatters add it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from contextvars import ContextVar
from typing import TextIO

LOG_FORMATS = ("json", "text")
# The id of the request being served by this thread, None outside a request.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# What `json.dumps(value, default=str)` does, without a new encoder for every line.
_ENCODE = json.JSONEncoder(default=str).encode


class Event:
    """A message that is a JSON object: its text (what `str()` and so every handler's
    `getMessage()` gives) is the JSON, made only when asked for; the JSON formatter
    merges `fields` into its line without it, so a hot path's line is encoded once."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict):
        self.fields = fields

    def __str__(self) -> str:
        return _ENCODE(self.fields)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if isinstance(record.msg, Event) and not record.args:
            event: dict | None = record.msg.fields
        else:
            message = record.getMessage()
            event = _json_object(message)
        if event is None:
            line["event"] = "message"
            line["message"] = message
        else:
            line.setdefault("event", "message")
            line.update(event)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line.setdefault("request_id", request_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODE(line)


class TextFormatter(logging.Formatter):
    """A line for a person at a terminal: time, level, logger, message (and the request id)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = REQUEST_ID.get()
        return text if request_id is None or request_id in text else f"{text} [request {request_id}]"


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
        return TextFormatter()
    return JsonFormatter()


_HANDLER_NAME = "export_responses"


def configure(log_format: str = "json", stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send every logger's events to `stream` (standard error) in `log_format`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Only a handler of ours is replaced: one a host added (a test runner's capture) stays.
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic's per-connection notes ("Context impl SQLiteImpl.") say nothing to an
    # operator, and every process that checks the schema would print them again.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def without_record_lookups() -> None:
    """Stop looking up, for every line, what neither formatter shows: the caller's file
    and line (a stack walk), the thread and the process (the logging HOWTO's
    "Optimization"). Process-wide, so only for a process that is ours alone (the API
    server's workers), never for a host that may show them."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
