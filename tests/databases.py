"""Databases for the tests (a plugin, loaded by the root conftest.py): a migrated SQLite file and,
when it can run, PostgreSQL.

Under CI=true the PostgreSQL tests must run: a missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa
from hypothesis import settings

from adapters.sql import migrate
from adapters.sql.engine import create_engine
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.config import Settings
from tests.pgbouncer import PgBouncer, PgBouncerUnavailable, engine_for
from tests.postgres import Cluster, PostgresUnavailable

IN_CI = os.environ.get("CI", "").lower() == "true"


def cannot_run(reason: str) -> NoReturn:
    """What a test needs is missing here: a skip saying `reason`, or under CI=true, where
    nothing may skip, a failure."""
    if IN_CI:
        pytest.fail(f"under CI=true nothing may skip: {reason}")
    pytest.skip(reason)


def start_cluster() -> Cluster:
    """A started throwaway cluster; without the server binaries, a skip, or under CI a failure."""
    try:
        return Cluster().start()
    except PostgresUnavailable as error:
        cannot_run(f"PostgreSQL tests: {error} (install postgresql-15 to run them)")


@pytest.fixture(scope="session")
def postgres_cluster():
    cluster = start_cluster()
    try:
        template = create_engine(cluster.create_database("template_export_responses"))
        migrate.upgrade(template)
        template.dispose()
        yield cluster
    finally:
        cluster.stop()


def start_pgbouncer(cluster: Cluster) -> PgBouncer:
    """A started PgBouncer in front of `cluster`; without one, a skip, or under CI a failure."""
    try:
        return PgBouncer(cluster).start()
    except PgBouncerUnavailable as error:
        cannot_run(f"PgBouncer tests: {error} (apt-get install pgbouncer to run them)")


@pytest.fixture(scope="session")
def pgbouncer(postgres_cluster):
    """A PgBouncer in transaction pooling mode in front of the session's cluster."""
    bouncer = start_pgbouncer(postgres_cluster)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def new_postgres_database(cluster: Cluster) -> str:
    return cluster.create_database(f"test_{uuid.uuid4().hex[:12]}", template="template_export_responses")


def new_pgbouncer_database(bouncer: PgBouncer) -> str:
    """A new database, through PgBouncer: the URL a service runs on with DATABASE_POOLING=transaction.

    It also turns psycopg's prepared statements off for the tests' own engines on it.
    """
    return bouncer.url_of(new_postgres_database(bouncer.cluster)) + "?prepare_threshold=None"


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "export-responses.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    return new_postgres_database(postgres_cluster)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """A freshly migrated database of each supported kind."""
    return request.getfixturevalue(f"{request.param}_url")


def services_on(engine: sa.Engine, options: dict | None = None, **overrides) -> Services:
    """The services the entry points get from the bootstrap, on a test's engine (which
    the test disposes of), with the Settings `options` and the bootstrap's `overrides`."""
    url = engine.url.render_as_string(hide_password=False)
    return bootstrap(Settings(database_url=url, data_dir=Path("var"), **(options or {})), engine=engine, **overrides)


@pytest.fixture
def engine(database_url):
    engine = engine_for(database_url)
    yield engine
    engine.dispose()


# Property tests (hypothesis) run the same examples on every run, so a red CI run is
# reproduced locally as it was; HYPOTHESIS_PROFILE=explore searches afresh instead.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
