"""Every log event is one JSON line, whatever its message holds."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import attrs
import pytest
from falcon import testing

from adapters.memory import InMemoryStore
from entrypoints import logs
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import main
from entrypoints.config import Settings
from entrypoints.http.app import create_app


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


def test_a_line_logged_during_a_request_by_any_module_carries_its_request_id():
    def export_responses(command, received):
        logging.getLogger("application.somewhere").warning("deep inside the use case")
        raise RuntimeError("so that nothing else runs")

    services = attrs.evolve(
        bootstrap(Settings("sqlite://", Path("var"), api_auth=False), store=InMemoryStore()),
        handle_export_responses=export_responses,
    )
    client = testing.TestClient(create_app(services))
    replies = []

    def emit(log):
        body = b'{"uuid": "0b6f3c1e-6f3a-4d0e-9a51-2f7c1d9e8a40", "command": "ExportResponses", "data": {"external_system_id": 1, "response_ids": [1]}}'
        replies.append(client.simulate_post("/api/v2/exports/export_responses", body=body, headers=JSON))
        log.info("after the request")

    lines = [json.loads(line) for line in logged("json", emit)]
    request_id = replies[0].headers["X-Request-Id"]
    during = [line for line in lines if line["logger"] != "export_responses.test"]
    assert {line["logger"] for line in during} >= {"application.somewhere", "export_responses.access"}
    assert {line.get("request_id") for line in during} == {request_id}
    (after,) = [line for line in lines if line["logger"] == "export_responses.test"]
    assert "request_id" not in after


JSON = {"Content-Type": "application/json"}


def test_text_lines_carry_the_request_id_too():
    def emit(log):
        token = logs.REQUEST_ID.set("4a1b")
        try:
            log.info("hello")
        finally:
            logs.REQUEST_ID.reset(token)

    (line,) = logged("text", emit)
    assert line.endswith("INFO export_responses.test: hello [request 4a1b]")


def test_configuring_twice_keeps_one_handler_of_ours_and_leaves_the_hosts_alone():
    root = logging.getLogger()
    host = logging.NullHandler()
    root.addHandler(host)
    handlers = list(root.handlers)
    try:
        logs.configure("json", io.StringIO())
        logs.configure("text", io.StringIO())
        ours = [handler for handler in root.handlers if handler.get_name() == "export_responses"]
        assert len(ours) == 1 and isinstance(ours[0].formatter, logs.TextFormatter)
        assert host in root.handlers
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            if handler is not host:
                root.addHandler(handler)


@pytest.mark.parametrize(
    "arguments", [["status"], ["worker", "--drain"], ["migrate", "--dry-run"], ["load", "missing-file.json"]]
)
def test_every_command_logs_in_the_format_log_format_names(arguments, monkeypatch, tmp_path):
    monkeypatch.setenv("EXPORT_RESPONSES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_FORMAT", "text")
    for name in [name for name in os.environ if name.startswith("CCD_")]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        main(arguments)
        (ours,) = [handler for handler in root.handlers if handler.get_name() == "export_responses"]
        assert isinstance(ours.formatter, logs.TextFormatter)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)


def test_an_event_is_its_json_text_to_every_handler_and_merged_into_the_json_line(monkeypatch):
    event = logs.Event({"event": "request", "status": 400, "path": "/api/v2/exports/export_responses"})
    assert json.loads(str(event)) == event.fields
    (text,) = logged("text", lambda log: log.info(event))
    assert text.endswith(f"INFO export_responses.test: {event}")
    (line,) = logged("json", lambda log: log.info(event))
    assert json.loads(line)["status"] == 400
    # The JSON formatter merges the fields it keeps: it neither makes the text nor decodes it.
    monkeypatch.setattr(logs, "_json_object", lambda message: pytest.fail("the event was decoded"))
    monkeypatch.setattr(logs.Event, "__str__", lambda self: pytest.fail("the event's text was made"))
    record = logging.LogRecord("export_responses.access", logging.INFO, __file__, 1, event, None, None)
    parsed = json.loads(logs.JsonFormatter().format(record))
    assert list(parsed)[:4] == ["time", "level", "logger", "event"]
    assert (parsed["event"], parsed["status"], parsed["path"]) == ("request", 400, "/api/v2/exports/export_responses")
