"""Another Python service embeds the application layer: the README's example, as written.

The example is read from the README's Embedding section and run in a fresh interpreter
on a database holding what it exports (system 1, responses 24 and 25); then the same
interpreter says which HTTP libraries it loaded: none.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from adapters.memory import InMemoryStore
from adapters.sql import migrate
from domain.commands import ExportResponses
from domain.external_systems import ExternalSystem
from domain.results import envelope
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from tests.builders import add_external_system, add_responses

ROOT = Path(__file__).resolve().parents[2]
_SECTION = re.compile(r"^## Embedding\n(.*?)^## ", re.MULTILINE | re.DOTALL)
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
_HTTP_LOADED = "\nprint(json.dumps(sorted(m for m in ('falcon', 'gunicorn', 'requests') if m in sys.modules)))\n"


def readme_embedding_example() -> tuple[str, str]:
    """The Embedding section's Python example and the output the README shows for it."""
    section = _SECTION.search((ROOT / "README.md").read_text())
    assert section is not None, "the README has no Embedding section"
    blocks = _BLOCK.findall(section.group(1))
    assert [kind for kind, _ in blocks[:2]] == ["python", "text"], blocks
    return blocks[0][1], blocks[1][1].strip()


def test_the_readmes_embedding_example_runs_as_written(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    services = bootstrap(Settings(database_url=url, data_dir=tmp_path))
    try:
        migrate.upgrade(services.engine)
        with services.engine.begin() as connection:
            add_external_system(connection, 1)
            add_responses(connection, [24, 25])
    finally:
        services.close()
    example, expected = readme_embedding_example()
    program = "import json, sys\n" + example + _HTTP_LOADED
    environment = {**os.environ, "DATABASE_URL": url, "EXPORT_RESPONSES_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT, env=environment
    )
    assert done.returncode == 0, done.stderr
    *printed, http_loaded = done.stdout.strip().splitlines()
    assert "\n".join(printed) == expected
    assert json.loads(http_loaded) == []


def test_a_host_tests_against_the_same_services_on_an_in_memory_store(tmp_path):
    store = InMemoryStore(
        external_systems={43: ExternalSystem(43, "CCD system 43", "ccd_system_43", export_responses=True)},
        response_ids={18},
    )
    services = bootstrap(Settings(database_url="sqlite://", data_dir=tmp_path), store=store)
    accepted = services.handle_export_responses(ExportResponses("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, (18,)))
    refused = services.handle_export_responses(ExportResponses("9f6e3de8-e731-4b7e-9f10-69e9e70e200b", -1, (18,)))
    assert envelope(accepted) == {"status": "accepted", "meta": {}, "uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}
    assert [error.code for error in refused.errors] == ["external_system_not_found"]
    assert services.export_reader.count_by_state("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78")["queued"] == 1
