"""The error catalogue: every code the code base can send is declared, every declared code
is sent somewhere, an undeclared one raises, and the README's table is the catalogue's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from domain.errors import RULES, Catalogue, ErrorCode, UndeclaredCode
from domain.results import CommandError, CommandResult
from entrypoints.http.error_codes import CATALOGUE, markdown_table
from entrypoints.http.rendering import http_status

ROOT = Path(__file__).resolve().parents[2]
# Where HTTP replies' codes come from. The CLI's load-file problems are its own report's.
PRODUCT = [ROOT / "domain", ROOT / "application", ROOT / "adapters", ROOT / "entrypoints"]
NOT_HTTP = [ROOT / "entrypoints" / "cli"]
# The calls that take an error code as a literal argument.
CODE_TAKERS = {"error", "refusal", "_refuse", "raw_error_reply", "_answer", "Problem", "Unauthenticated", "_error"}
CODE = re.compile(r"[a-z]+(_[a-z]+)+")


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
        return node.value
    return None


def produced_codes() -> dict[str, list[str]]:
    """Every code literal the product code hands to an error constructor, and where."""
    found: dict[str, list[str]] = {}
    for folder in PRODUCT:
        for path in folder.rglob("*.py"):
            if any(path.is_relative_to(excluded) for excluded in NOT_HTTP):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                candidates: list[ast.expr | None] = []
                if isinstance(node, ast.Call) and _name(node.func) in CODE_TAKERS:
                    # the code comes first, but after the connection for the worker's `_answer`
                    candidates += node.args[:2]
                elif isinstance(node, ast.FunctionDef) and node.name.startswith("_refusal"):
                    # gunicorn's refusals are returned as (code, facts)
                    candidates += [
                        inner.value.elts[0]
                        for inner in ast.walk(node)
                        if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Tuple)
                    ]
                elif isinstance(node, ast.Assign) and any(
                    isinstance(target, ast.Name) and target.id.endswith("_CODES") for target in node.targets
                ):
                    if isinstance(node.value, ast.Dict):
                        candidates += node.value.values
                for candidate in candidates:
                    code = _literal(candidate)
                    if code is not None:
                        found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{candidate.lineno}")
    return found


def test_every_code_the_code_base_sends_is_declared():
    undeclared = {code: places for code, places in produced_codes().items() if code not in CATALOGUE}
    assert undeclared == {}


def test_every_declared_code_is_sent_somewhere():
    produced = produced_codes()
    assert [code.code for code in CATALOGUE if code.code not in produced] == []


def test_the_walk_finds_the_codes_of_each_kind_of_constructor():
    # So that the two tests above cannot pass by finding nothing.
    produced = produced_codes()
    for code in ("response_not_found", "too_many_errors", "invalid_type", "headers_too_large", "not_found"):
        assert code in produced, code


def test_an_undeclared_code_raises_instead_of_becoming_a_400():
    with pytest.raises(UndeclaredCode):
        CATALOGUE.error("no_such_code")
    stray = CommandError(400, "no_such_code", "x", "x", "/", None, None)
    with pytest.raises(UndeclaredCode):
        http_status(CommandResult.reject(None, None, [stray]))


def test_a_code_declared_twice_is_refused_when_the_catalogue_is_built():
    with pytest.raises(ValueError, match="response_not_found"):
        RULES.extended(ErrorCode("response_not_found", 400, 422, "again"))


def test_one_constructor_fills_the_template_and_gives_title_and_detail_once():
    catalogue = Catalogue.of(ErrorCode("thing_missing", 404, 404, "No thing {id} in {place}", "/thing_id"))
    error = catalogue.error("thing_missing", command="Find", uuid="u", id=42, place="the shed")
    assert error == CommandError(
        status=404,
        code="thing_missing",
        title="No thing 42 in the shed",
        detail="No thing 42 in the shed",
        source="/thing_id",
        command="Find",
        uuid="u",
    )
    assert catalogue.error("thing_missing", source="/other", id=1, place="x").source == "/other"


def test_the_http_catalogue_holds_the_domains_rules_as_declared():
    assert {code.code: code for code in RULES}.items() <= {code.code: code for code in CATALOGUE}.items()


def test_the_readme_table_is_the_catalogues():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- error codes: the output of python -m entrypoints.http.error_codes -->\n")
    end = readme.index("<!-- end of error codes -->")
    table = readme[readme.index("\n", start) + 1 : end].strip()
    assert table == markdown_table(), "regenerate with: .venv/bin/python -m entrypoints.http.error_codes"
    documented = re.findall(r"^\| `([a-z_]+)` \| (\d+) \| (\d+) \|", table, re.MULTILINE)
    assert documented == [(code.code, str(code.reply_status), str(code.status)) for code in CATALOGUE]
