"""Another Python service embeds the application layer directly: no HTTP, no Falcon."""

import json
import subprocess
import sys
import textwrap

EMBEDDING_PROGRAM = textwrap.dedent(
    """
    import json, sys, uuid

    from adapters.clock import SystemClock
    from adapters.sql import migrate
    from adapters.sql.engine import create_engine
    from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
    from application.export_responses import ExportResponsesDeps, export_responses
    from domain.commands import ExportResponses
    from domain.results import envelope
    from tests.builders import add_external_system, add_responses

    engine = create_engine(sys.argv[1])
    migrate.upgrade(engine)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, [18])
    deps = ExportResponsesDeps(
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
    )
    accepted = export_responses(ExportResponses("fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", 43, (18,)), deps)
    refused = export_responses(ExportResponses("9f6e3de8-e731-4b7e-9f10-69e9e70e200b", -1, (18,)), deps)
    print(json.dumps({
        "accepted": envelope(accepted),
        "refused": [error.code for error in refused.errors],
        "http_loaded": sorted(m for m in ("falcon", "gunicorn", "requests") if m in sys.modules),
    }))
    """
)


def test_the_application_layer_runs_embedded_without_http(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    done = subprocess.run([sys.executable, "-c", EMBEDDING_PROGRAM, url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["accepted"] == {"status": "accepted", "meta": {}, "uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}
    assert report["refused"] == ["external_system_not_found"]
    assert report["http_loaded"] == []
