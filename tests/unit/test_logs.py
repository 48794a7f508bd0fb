"""Every log event is one JSON line, whatever its message holds."""

from __future__ import annotations

import io
import json
import logging

from entrypoints import logs


def logged(log_format: str, emit) -> list[str]:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure(log_format, stream)
    try:
        emit(logging.getLogger("export_responses.test"))
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    return stream.getvalue().splitlines()


def test_a_multi_line_driver_error_and_its_traceback_stay_on_one_line():
    def emit(log):
        try:
            raise RuntimeError('connection failed\nDETAIL:  the server said "no"\nHINT: try again')
        except RuntimeError:
            log.exception("database unavailable: %s", 'connection failed\nDETAIL:  the server said "no"')

    (line,) = logged("json", emit)
    event = json.loads(line)
    assert event["level"] == "error" and event["logger"] == "export_responses.test"
    assert event["event"] == "message" and event["message"].startswith("database unavailable: connection failed\n")
    assert "RuntimeError" in event["exception"] and event["time"].endswith("Z")


def test_an_event_logged_as_json_is_merged_into_the_line():
    (line,) = logged("json", lambda log: log.warning(json.dumps({"event": "authentication_failed", "path": "/x"})))
    event = json.loads(line)
    assert (event["event"], event["path"], event["level"]) == ("authentication_failed", "/x", "warning")


def test_text_for_a_terminal():
    (line,) = logged("text", lambda log: log.info("hello"))
    assert line.endswith("INFO export_responses.test: hello")
