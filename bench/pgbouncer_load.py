"""The service behind a transaction-pooling PgBouncer, loaded as an operator would try it.

PgBouncer (pool_mode=transaction, 5 server connections) in front of a throwaway
PostgreSQL; `serve --workers 4 --threads 2` through it; 8 clients sending accepted,
replayed and rejected commands in turn; then two `worker --drain` at once over what
was queued. Prints the replies by status and the workers' outcomes: every reply
other than the expected 202/400 is an error.

    .venv/bin/python -m bench.pgbouncer_load [--requests-per-client N] [--pooling transaction|session]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa

from adapters.sql import tables
from bench import data
from bench.processes import ROOT, TOKEN, fake_ccd, service
from tests.pgbouncer import PgBouncer
from tests.postgres import Cluster, free_port

CLIENTS = 8
_PATH = "/api/v2/exports/export_responses"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.pgbouncer_load", description=__doc__)
    parser.add_argument("--requests-per-client", type=int, default=110)
    parser.add_argument("--pooling", default="transaction", help="DATABASE_POOLING for the service and workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-responses-pgbouncer-load-") as work:
        folder = Path(work)
        cluster = Cluster().start()
        bouncer = None
        try:
            direct = cluster.create_database("bench")
            data.seed(direct)
            bouncer = PgBouncer(cluster).start()
            pooled = bouncer.url_of(direct)
            env = {"DATABASE_POOLING": args.pooling, "DATABASE_DIRECT_URL": direct}
            replies = _load(pooled, env, folder, args.requests_per_client)
            print(f"replies: {dict(sorted(replies.items(), key=str))}")
            errors = sum(count for status, count in replies.items() if status not in (202, 400))
            print(f"errors: {errors} of {sum(replies.values())}")
            _drain_with_two_workers(pooled, direct, env, folder)
        finally:
            if bouncer is not None:
                bouncer.stop()
            cluster.stop()
    return 0


def _load(url: str, env: dict, folder: Path, per_client: int) -> Counter:
    replies: Counter = Counter()
    lock = threading.Lock()
    with service(url, free_port(), folder, "--workers", "4", "--threads", "2", **env) as base:

        def client(number: int) -> None:
            session = requests.Session()
            ids = iter(data.ACCEPTED_IDS[number * per_client :])
            accepted: list[dict] = []
            for sent in range(per_client):
                kind = ("accepted", "replayed", "rejected")[sent % 3]
                if kind == "replayed" and accepted:
                    body = accepted[-1]
                else:
                    system = data.SYSTEM_ID if kind != "rejected" else -1
                    body = {
                        "uuid": str(uuid.uuid4()),
                        "command": "ExportResponses",
                        "data": {"external_system_id": system, "response_ids": [next(ids), next(ids)]},
                    }
                try:
                    status = session.post(
                        base + _PATH, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=(5, 60)
                    ).status_code
                except requests.RequestException as error:
                    status = type(error).__name__
                if status == 202 and kind == "accepted":
                    accepted.append(body)
                with lock:
                    replies[status] += 1

        threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return replies


def _drain_with_two_workers(url: str, direct: str, env: dict, folder: Path) -> None:
    with fake_ccd(direct, 0.005, folder) as ccd:
        worker_env = {**os.environ, **ccd.variables, **env, "DATABASE_URL": url, "EXPORT_RETRY_DELAYS": "1"}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "entrypoints.cli", "worker", "--drain", "--concurrency", "4"],
                cwd=ROOT,
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        crashes = output.count("Traceback")
        print(f"worker: exit {worker.returncode}, {crashes} tracebacks, last line: {output.strip().splitlines()[-1:]}")
    engine = sa.create_engine(direct)
    with engine.connect() as connection:
        states = dict(
            connection.execute(
                sa.select(tables.exports.c.state, sa.func.count()).group_by(tables.exports.c.state)
            ).all()
        )
        twice = connection.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(tables.export_events.c.export_id)
                .where(tables.export_events.c.state == "complete")
                .group_by(tables.export_events.c.export_id)
                .having(sa.func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    engine.dispose()
    print(f"exports by state: {states}; completed more than once: {twice}")


if __name__ == "__main__":
    sys.exit(main())
