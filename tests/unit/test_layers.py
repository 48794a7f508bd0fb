"""Dependencies point inward: the imports of every product module, read from its source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The libraries that reach a database or the network: only adapters and the composition
# root name them; every other module gets what they do through a port or the bootstrap.
DRIVERS = frozenset({"sqlalchemy", "requests", "psycopg", "alembic"})
COMPOSITION_ROOT = "entrypoints/bootstrap.py"
# The inner layers: the standard library, attrs, and each other.
INNER_ALLOWED = frozenset({"attrs", "domain", "application"}) | frozenset(sys.stdlib_module_names)


def modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The top-level names of every module `path` imports, however deep in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - {"__future__"}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_walk_sees_what_it_should():
    # The check below passes vacuously if the walk finds nothing: it finds the root's drivers.
    assert {"sqlalchemy"} <= imported(ROOT / COMPOSITION_ROOT)
    assert "requests" in imported(ROOT / "adapters/ccd/http_gateway.py")


@pytest.mark.parametrize(
    "path",
    [path for path in modules("domain", "application", "entrypoints") if relative(path) != COMPOSITION_ROOT],
    ids=relative,
)
def test_only_adapters_and_the_bootstrap_import_a_driver(path):
    assert not imported(path) & DRIVERS, f"{relative(path)} imports {sorted(imported(path) & DRIVERS)}"


@pytest.mark.parametrize("path", modules("domain", "application"), ids=relative)
def test_the_inner_layers_import_only_attrs_and_each_other(path):
    assert imported(path) <= INNER_ALLOWED, f"{relative(path)} imports {sorted(imported(path) - INNER_ALLOWED)}"


@pytest.mark.parametrize("path", modules("domain"), ids=relative)
def test_the_domain_imports_no_use_case(path):
    assert "application" not in imported(path)
