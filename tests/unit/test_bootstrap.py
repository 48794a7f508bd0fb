"""The one composition root: what it builds, and what each override replaces."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from adapters.clock import FixedClock
from adapters.memory import InMemoryStore
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import claim_due_exports
from domain.commands import ExportResponses
from domain.external_systems import ExternalSystem
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"


def settings(tmp_path: Path, **options) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path, **options)


def store_with_system() -> InMemoryStore:
    system = ExternalSystem(43, "CCD system 43", "ccd_system_43", export_responses=True)
    return InMemoryStore(external_systems={43: system}, response_ids={18}, case_numbers={18: "2400018/2024"})


def test_the_worker_gets_its_deps_only_with_a_ccd(tmp_path):
    assert bootstrap(settings(tmp_path), store=InMemoryStore()).export_work is None
    work = bootstrap(settings(tmp_path, claim_seconds=42.0), store=InMemoryStore(), ccd=InMemoryCcdGateway())
    assert work.export_work is not None
    assert work.export_work.claim_seconds == 42.0


def test_the_command_handler_and_the_worker_share_the_store_and_the_overrides(tmp_path):
    store = store_with_system()
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(100))
    services = bootstrap(
        settings(tmp_path), store=store, ccd=InMemoryCcdGateway(), clock=FixedClock(AT), new_uuid=lambda: next(ids)
    )
    assert services.handle_export_responses(ExportResponses(UUID, 43, (18,))).accepted
    assert services.export_reader.count_by_state(UUID)["queued"] == 1
    (claim,) = claim_due_exports(services.export_work, 10)
    assert claim.response_id == 18
    assert services.export_reader.get(claim.export_id).created_at == AT


def test_an_in_memory_store_has_no_loader_nor_engine_and_is_healthy(tmp_path):
    services = bootstrap(settings(tmp_path), store=InMemoryStore())
    assert (services.loader, services.engine) == (None, None)
    assert services.health.answers() and services.health.accepts_writes()
    services.close()  # nothing to release: no error


def test_close_releases_the_engine_it_made_and_leaves_one_it_was_given(tmp_path):
    made = bootstrap(settings(tmp_path))
    assert made.engine is not None and made.loader is not None
    pool = made.engine.pool
    made.close()
    assert made.engine.pool is not pool  # disposed: a fresh pool replaces the old one
    given = bootstrap(settings(tmp_path), engine=made.engine)
    pool = made.engine.pool
    given.close()
    assert made.engine.pool is pool
