"""A request's work and reply are bounded by its size, whatever it holds."""

from __future__ import annotations

import json

import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from domain.commands import ExportResponses
from domain.external_systems import ExternalSystem
from entrypoints.http.parsing import ECHO_LIMIT, Rejected, parse_export_responses

UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"


def rejected(body: dict, **limits) -> list:
    with pytest.raises(Rejected) as caught:
        parse_export_responses(json.dumps(body).encode(), **limits)
    return list(caught.value.result.errors)


def command(ids, system=43, name="ExportResponses") -> dict:
    return {"uuid": UUID, "command": name, "data": {"external_system_id": system, "response_ids": ids}}


def test_too_many_ids_are_counted_before_any_is_checked():
    errors = rejected(command([""] * 50, system="x"), max_response_ids=10)
    assert [(e.code, e.source) for e in errors] == [
        ("invalid_type", "/external_system_id"),
        ("too_many_response_ids", "/response_ids"),
    ]
    assert errors[1].detail == "A command may export at most 10 responses; this one lists 50"


def test_at_most_max_errors_are_listed_then_one_with_the_total():
    errors = rejected(command(["x"] * 30), max_errors=5)
    assert [e.code for e in errors] == ["invalid_type"] * 5 + ["too_many_errors"]
    assert errors[-1].detail == "30 problems in all; only the first 5 are listed"
    assert (errors[-1].status, errors[-1].uuid, errors[-1].command) == (422, UUID, "ExportResponses")


def test_a_long_command_name_is_echoed_cut_short():
    errors = rejected(command([1], name="é" * 100_000))
    assert errors[0].code == "unknown_command"
    assert len(errors[0].command) == ECHO_LIMIT + 3 and len(errors[0].detail) < 2 * ECHO_LIMIT + 100


def test_rule_errors_are_capped_as_well():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    deps = ExportResponsesDeps(lambda: InMemoryUnitOfWork(store), FixedClock(), lambda: UUID, max_errors=3)
    result = export_responses(ExportResponses(UUID, 43, tuple(range(1, 11))), deps)
    assert result.codes == ["response_not_found"] * 3 + ["too_many_errors"]
    assert result.errors[-1].detail == "10 problems in all; only the first 3 are listed"
    assert store.commands == {}
