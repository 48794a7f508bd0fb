"""Fixtures of the worker's unit tests: an in-memory store, CCD and clock (worker_fakes)."""

from __future__ import annotations

import itertools

import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryUnitOfWork
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import ExportWorkDeps
from domain.circuits import CircuitPolicy
from domain.retries import RetrySchedule
from tests.unit.worker_fakes import START, seeded_store


@pytest.fixture
def store():
    return seeded_store()


@pytest.fixture
def ccd():
    return InMemoryCcdGateway()


@pytest.fixture
def clock():
    return FixedClock(START)


@pytest.fixture
def deps(store, ccd, clock):
    counter = itertools.count(1)
    return ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=ccd,
        clock=clock,
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        retries=RetrySchedule((10.0, 60.0)),
        claim_seconds=300,
        pause=lambda seconds: None,
        circuit=CircuitPolicy(failures_to_open=5, first_probe_seconds=10, max_probe_seconds=80),
    )
