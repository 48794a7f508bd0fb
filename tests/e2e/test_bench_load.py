"""The benchmark's load (bench/wrk/command.lua through wrk, bench/measures.py) sends what
each scenario claims to measure, against the service under gunicorn on SQLite: rejected
commands are all refused, accepted ones each queue one export, replays all answer from
the log, and the ceiling app answers every request."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from bench import data, measures
from bench.context import Context, Options
from bench.load import CONNECTIONS, wrk_available
from tests.builders import count_rows
from tests.databases import cannot_run

SECONDS = 1


@pytest.fixture(scope="module")
def bench_context(tmp_path_factory):
    if not wrk_available():
        cannot_run("wrk is needed for the benchmark's load test (Debian: apt-get install wrk)")
    folder = tmp_path_factory.mktemp("bench")
    with data.database("sqlite", folder) as url:
        context = Context("sqlite", url, folder, Options(seconds=SECONDS, pairs=1, quick=True))
        try:
            yield context
        finally:
            context.close()


def _exports(url: str, **where: object) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return count_rows(connection, tables.exports, **where)
    finally:
        engine.dispose()


def test_rejected_commands_are_all_refused(bench_context):
    load = measures.rejected(bench_context.service(), SECONDS)  # raises on any 2xx or socket error
    assert load.requests > 0
    assert load.non_2xx == load.requests
    assert load.p50_ms <= load.p99_ms


def test_each_accepted_command_queues_one_export(bench_context):
    load = measures.accepted(bench_context.service(), bench_context.url, SECONDS)
    assert load.requests > 0
    assert load.non_2xx == 0
    # wrk counts the replies it read; at its deadline up to one command a connection may
    # have been answered (and its export queued) unread
    assert load.requests <= _exports(bench_context.url) <= load.requests + CONNECTIONS


def test_replays_answer_from_the_log_without_queueing(bench_context):
    load = measures.replay(bench_context.service(), SECONDS)
    assert load.requests > 0
    assert load.non_2xx == 0
    # the first command's export, and no other (an accepted command still in flight when
    # the previous test's wrk stopped may add one for another response: not counted)
    assert _exports(bench_context.url, resource_id=measures.REPLAY_RESPONSE) == 1


def test_the_ceiling_answers_every_request(bench_context):
    load = measures.ceiling(bench_context.ceiling(), SECONDS)
    assert load.requests > 0
    assert load.non_2xx == 0
    assert load.socket_errors == 0
