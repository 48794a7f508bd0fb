"""The command line as a newcomer meets it: help naming the settings, plain errors, one
data folder from any directory, database problems in one line, readers creating nothing."""

from __future__ import annotations

import io
import json
import re
import socket
from pathlib import Path

import pytest

from entrypoints import cli
from entrypoints.config import SETTINGS, Settings, settings_read_by

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("migrate", "load", "seed", "serve", "worker", "fake-ccd", "status", "exports", "systems")
# Read from the platform, not settings of ours: they place the default data folder.
PLATFORM = {"XDG_DATA_HOME", "HOME"}
_ENVIRONMENT_NAME = re.compile(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"')


@pytest.fixture(autouse=True)
def no_settings_of_the_developer(monkeypatch, tmp_path):
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_every_environment_variable_the_code_reads_is_declared():
    sources = [REPO_ROOT / "entrypoints" / "config.py", REPO_ROOT / "adapters" / "ccd" / "settings.py"]
    read = {name for source in sources for name in _ENVIRONMENT_NAME.findall(source.read_text())}
    assert read - PLATFORM <= {setting.name for setting in SETTINGS}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_lists_the_settings_it_reads_with_their_defaults(command, capsys):
    shown = _help(capsys, command)
    assert "settings (environment variables):" in shown
    for setting in settings_read_by(command):
        assert setting.name in shown and " ".join(f"(default: {setting.default})".split()) in shown


def test_every_command_reads_the_database_settings_and_the_readme_documents_every_setting():
    readme = (REPO_ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert {"DATABASE_URL", "EXPORT_RESPONSES_DATA_DIR"} <= {setting.name for setting in settings_read_by(command)}
    assert [setting.name for setting in SETTINGS if f"`{setting.name}`" not in readme] == []


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"export-responses \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_the_top_level_help_does_not_break_words(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = capsys.readouterr().out
    assert not re.search(r"\w-\n", shown), shown
    assert all(command in shown for command in COMMANDS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--concurrency", "abc"], "argument --concurrency: must be a whole number, not 'abc'"),
        (["worker", "--concurrency", "0"], "argument --concurrency: must be at least 1, not 0"),
        (["worker", "--max-rate", "fast"], "argument --max-rate: must be a number, not 'fast'"),
        (["serve", "--workers", "many"], "argument --workers: must be a whole number, not 'many'"),
    ],
)
def test_bad_arguments_are_refused_in_plain_words(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and message in error
    assert "invalid" not in error and "_positive" not in error


def test_load_dash_reads_standard_input(monkeypatch, capsys, tmp_path):
    document = {
        "external_systems": [
            {
                "id": 7,
                "name": "CCD Test",
                "reference": "ccd_test",
                "office_codes": [24],
                "enabled": True,
                "export_responses": True,
                "configurations": {},
            }
        ]
    }
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(document).encode())))
    assert cli.main(["load", "-"]) == 0
    assert "loaded 1 external system (1 new)" in capsys.readouterr().out


def test_the_data_folder_is_the_same_absolute_one_from_any_directory(tmp_path, monkeypatch):
    home = {"HOME": str(tmp_path / "home")}
    assert Settings.from_environ(home).data_dir == tmp_path / "home" / ".local" / "share" / "export-responses"
    assert Settings.from_environ({**home, "XDG_DATA_HOME": "/srv/data"}).data_dir == Path("/srv/data/export-responses")
    assert Settings.from_environ({**home, "XDG_DATA_HOME": "relative"}).data_dir.is_relative_to(tmp_path / "home")
    monkeypatch.chdir(tmp_path / "..")
    chosen = Settings.from_environ({"EXPORT_RESPONSES_DATA_DIR": "somewhere"}).data_dir
    assert chosen.is_absolute() and chosen == Path.cwd() / "somewhere"
    assert Settings.from_environ({**home}).database_url.endswith(
        "/home/.local/share/export-responses/export-responses.sqlite3"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["worker", "--drain"],
        ["fake-ccd", "--cases-from-database"],
        ["exports", "list"],
        ["systems", "pause", "1"],
    ],
)
def test_commands_that_read_report_a_missing_database_and_create_nothing(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CCD_DATA_STORE_BASE_URL", "")  # the worker's CCD check is not what this is about
    for name, value in (
        ("CCD_AUTH_BASE_URL", "http://127.0.0.1:9/auth"),
        ("CCD_IDAM_BASE_URL", "http://127.0.0.1:9/idam"),
        ("CCD_DATA_STORE_BASE_URL", "http://127.0.0.1:9/data"),
        ("CCD_DOCUMENT_STORE_BASE_URL", "http://x"),
        ("CCD_MICROSERVICE_ID", "ccd_gw"),
        ("CCD_MICROSERVICE_SECRET", "AAAAAAAAAAAAAAAC"),
        ("CCD_SIDAM_USERNAME", "u"),
        ("CCD_SIDAM_PASSWORD", "p"),
    ):
        monkeypatch.setenv(name, value)
    before = sorted(tmp_path.rglob("*"))

    assert cli.main(command) == 1

    database = tmp_path / "xdg" / "export-responses" / "export-responses.sqlite3"
    error = capsys.readouterr().err
    assert error == (
        f"export-responses: there is no database at {database}: run `export-responses migrate` to create "
        f"it, or set DATABASE_URL or EXPORT_RESPONSES_DATA_DIR to the database you mean\n"
    )
    assert sorted(tmp_path.rglob("*")) == before


def test_a_database_url_into_a_missing_folder_is_not_created_by_a_reader(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/folder/db.sqlite3")
    assert cli.main(["status"]) == 1
    assert "there is no database at" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_a_database_folder_that_cannot_be_created_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/a-file/db.sqlite3")
    assert cli.main(["migrate"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"export-responses: cannot create the folder {tmp_path}/a-file for the database ")
    assert error.count("\n") == 1 and "Traceback" not in error


def test_a_schema_that_is_not_current_says_to_migrate(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.sqlite3")
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().err == (
        f"export-responses: the database at sqlite:///{tmp_path}/empty.sqlite3 has no "
        f"current schema: run `export-responses migrate`\n"
    )


def test_a_migrated_database_is_found_again_from_another_directory(tmp_path, capsys, monkeypatch):
    assert cli.main(["migrate"]) == 0
    assert (tmp_path / "xdg" / "export-responses").stat().st_mode & 0o777 == 0o700  # personal data: owner only
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["status"]) == 0
    assert "All exports:" in capsys.readouterr().out
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://...", "DATABASE_URL: '...' is not a host name"),
        (
            "postgresql+psycopg://me:secret@127.0.0.1:1/db",
            "cannot use the database at postgresql+psycopg://me:***@127.0.0.1:1/db",
        ),
    ],
)
def test_a_bad_postgresql_url_is_one_line_with_the_password_masked(url, shown, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["status"]) in (1, 2)
    error = capsys.readouterr().err
    assert shown in error and "secret" not in error and error.count("\n") == 1


def test_serve_refuses_an_address_in_use_in_one_line_before_touching_the_database(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        assert cli.main(["serve", "--bind", address]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"export-responses serve: cannot listen on {address}: Address already in use")
    assert error.count("\n") == 1 and not (tmp_path / "xdg").exists()
