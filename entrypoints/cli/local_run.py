"""What scripts/run asks before and after it starts the service on this machine.

python -m entrypoints.cli.local_run prepare HOST:PORT
    prints the data folder; one line and status 1 if nothing can listen there
python -m entrypoints.cli.local_run ready --api URL --worker PID --stop PID [--fake-ccd URL]
    waits until GET URL/health answers 200, then prints the banner
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from entrypoints.cli.addresses import bind_problem
from entrypoints.cli.api_token import TOKEN_FILE
from entrypoints.cli.database import shown
from entrypoints.config import ConfigError, Settings

HEALTHY_WITHIN_SECONDS = 60


def wait_healthy(base_url: str, seconds: float = HEALTHY_WITHIN_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def banner(settings: Settings, api: str, worker_pid: str, stop_pid: str, fake_ccd: str | None) -> str:
    if not settings.api_auth:
        token = "none: /api/ is open (API_AUTH=none)"
    elif settings.api_tokens:
        token = "the tokens in API_TOKENS"
    else:
        path = settings.data_dir / TOKEN_FILE
        token = f'{path}\n{"":13}curl -H "Authorization: Bearer $(cat {path})" {api}/api/v2/exports'
    ccd = f"the fake CCD at {fake_ccd}" if fake_ccd else "the CCD that the CCD_* variables name"
    rows = [
        ("API", f"{api}  (GET /health; the contract at /api/v2/openapi.json)"),
        ("token file", token),
        ("database", shown(settings.database_url)),
        ("worker", f"pid {worker_pid}, exporting to {ccd}"),
        ("fake CCD", f"{fake_ccd}  (set the CCD_* variables to use a real CCD)" if fake_ccd else "not started"),
        ("stop", f"Ctrl-C, or kill {stop_pid}"),
    ]
    rule = "-" * 72
    return "\n".join([rule, "Export Responses is running", *[f"  {name:<10} {text}" for name, text in rows], rule])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m entrypoints.cli.local_run")
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("prepare").add_argument("bind")
    ready = steps.add_parser("ready")
    for option in ("--api", "--worker", "--stop"):
        ready.add_argument(option, required=True)
    ready.add_argument("--fake-ccd", default="")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ()
    except ConfigError as error:
        print(f"run: {error}", file=sys.stderr)
        return 2
    if args.step == "prepare":
        problem = bind_problem(args.bind)
        if problem:
            print(
                f"run: {problem}; stop what holds it, or choose another: BIND=127.0.0.1:8001 scripts/run",
                file=sys.stderr,
            )
            return 1
        print(settings.data_dir)
        return 0
    if not wait_healthy(args.api):
        print(f"run: {args.api}/health did not answer within {HEALTHY_WITHIN_SECONDS} s", file=sys.stderr)
        return 1
    print(banner(settings, args.api, args.worker, args.stop, args.fake_ccd or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
