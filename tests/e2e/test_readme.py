"""The README's examples, taken from the README itself, run as written and in order against
`scripts/run` (the README's first command), so that they cannot drift from the service.

Every ```sh and ```python block runs, in one shell session (a variable set in one
example is there in the next), but for the commands listed in NOT_RUN. A ```text block
right after one is its expected output: each of its lines, but `...`, must appear in
what the example printed, in order (spaces compared loosely). The one liberty taken:
the examples' 127.0.0.1:8000 becomes a free port.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
from attrs import frozen

from tests.e2e.conftest import REPO_ROOT
from tests.e2e.test_stopping import assert_run_stops, start_run, wait_for_banner
from tests.postgres import free_port

pytestmark = pytest.mark.e2e
README = REPO_ROOT / "README.md"
NOT_RUN = {
    "scripts/run": "the server the examples run against",
    "scripts/test": "the suite this test belongs to",
    "bench/run": "a benchmark of minutes",
}
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
_MARK = "@@ README example {} @@"
EXAMPLES_SECONDS = 120


@frozen
class Example:
    kind: str  # "sh" or "python"
    code: str
    expected: tuple[str, ...]  # lines of the output block that follows, if any


def readme_examples(text: str) -> list[Example]:
    blocks = list(_FENCE.finditer(text))
    examples = []
    for index, block in enumerate(blocks):
        kind, code = block.group(1), block.group(2)
        if kind not in ("sh", "python") or code.strip() in NOT_RUN:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        is_output = (
            following is not None
            and following.group(1) == "text"
            and not (text[block.end() : following.start()].strip())
        )
        expected = tuple(following.group(2).splitlines()) if is_output else ()
        examples.append(Example(kind, code, expected))
    return examples


def session_script(examples: list[Example]) -> str:
    """One bash script running every example, each announced by a marker line."""
    lines = ["set -euo pipefail"]
    for number, example in enumerate(examples):
        lines.append(f"printf '\\n%s\\n' '{_MARK.format(number)}'")  # a reply may not end its last line
        if example.kind == "sh":
            lines.append(example.code)
        else:
            lines += [".venv/bin/python - <<'PYTHON_EXAMPLE'", example.code.rstrip("\n"), "PYTHON_EXAMPLE"]
    return "\n".join(lines) + "\n"


def outputs(printed: str, count: int) -> list[str]:
    parts = re.split(r"^@@ README example (\d+) @@\n", printed, flags=re.MULTILINE)
    found = {int(number): output for number, output in zip(parts[1::2], parts[2::2], strict=True)}
    return [found.get(number, "") for number in range(count)]


def missing_lines(expected: tuple[str, ...], output: str) -> list[str]:
    """The expected lines not found, in order, among the output's lines."""
    loose = [" ".join(line.split()) for line in output.splitlines()]
    position, missing = 0, []
    for line in expected:
        wanted = " ".join(line.split())
        if wanted in ("", "..."):
            continue
        found = next((at for at in range(position, len(loose)) if wanted in loose[at]), None)
        if found is None:
            missing.append(line)
        else:
            position = found + 1
    return missing


def test_the_readme_has_examples_of_each_kind():
    examples = readme_examples(README.read_text())
    assert {example.kind for example in examples} == {"sh", "python"}
    assert all(example.expected for example in examples if example.kind == "python")


def test_the_readme_examples_run_as_written_in_order_against_scripts_run(tmp_path):
    port = free_port()
    examples = readme_examples(README.read_text().replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
    run = start_run(tmp_path, port)
    try:
        wait_for_banner(run)
        env = {**run.env, "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(
            ["bash", "-c", session_script(examples)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXAMPLES_SECONDS,
        )
        printed = done.stdout + done.stderr
        assert done.returncode == 0, f"an example failed (the last one announced):\n{printed}"
        for example, output in zip(examples, outputs(done.stdout, len(examples)), strict=True):
            assert not missing_lines(example.expected, output), (
                f"{example.code}\nprinted:\n{output}\nbut not: {missing_lines(example.expected, output)}"
            )
        assert "Traceback" not in printed, printed
        # The README's first command stops on Ctrl-C in its terminal: the whole group.
        assert_run_stops(run, signal.SIGINT, 130, whole_group=True)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
