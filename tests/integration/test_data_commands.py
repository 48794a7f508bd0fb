"""`export-responses load` and `seed`, run in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from entrypoints.cli import main
from tests.builders import count_rows

COUNTED = (
    tables.external_systems,
    tables.external_system_configurations,
    tables.responses,
    tables.respondents,
    tables.representatives,
)
SEEDED = {
    "ccd_manchester": (
        "CCD Manchester",
        [24],
        False,
        {"case_type_id": "Manchester_Dev", "multiples_case_type_id": "Manchester_Multiples_Dev"},
    ),
    "ccd_glasgow": (
        "CCD Glasgow",
        [41],
        False,
        {"case_type_id": "Glasgow_Dev", "multiples_case_type_id": "Glasgow_Multiples_Dev"},
    ),
    "ccd_london_central": ("CCD London Central", [22], False, {}),
    "ccd_bristol": ("CCD Bristol", [14], False, {}),
    "ccd_england_and_wales_reform": (
        "CCD England And Wales (Reform)",
        [60],
        True,
        {"case_type_id": "ET_EnglandWales", "send_request_id": "true"},
    ),
    "ccd_scotland_reform": (
        "CCD Scotland (Reform)",
        [80],
        False,
        {"case_type_id": "ET_Scotland", "send_request_id": "true"},
    ),
}


@pytest.fixture
def db(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: count_rows(connection, table) for table in COUNTED}


def a_file(tmp_path, document, name="data.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def good_document(system_name="CCD Manchester", claimant="Jo Bloggs", case_type="Manchester_Dev") -> dict:
    return {
        "external_systems": [
            {
                "id": 43,
                "name": system_name,
                "reference": "ccd_manchester",
                "office_codes": [24],
                "export_responses": True,
                "configurations": {"case_type_id": case_type, "password": {"value": "s3cret"}},
            }
        ],
        "responses": [
            {
                "id": 18,
                "reference": "242000000018",
                "case_number": "2400018/2024",
                "claimants_name": claimant,
                "respondent": {"name": "Acme Ltd"},
                "representative": {"name": "Sam Law"},
                "date_of_receipt": "2024-03-01T09:15:00Z",
                "defend_claim": True,
            },
            {
                "id": 19,
                "reference": "412000000019",
                "case_number": "4100019/2024",
                "claimants_name": "Ali Khan",
                "respondent": {"name": "Clyde Foods Ltd"},
            },
        ],
    }


def test_load_writes_the_file_and_says_what_it_did(db, tmp_path, capsys):
    path = a_file(tmp_path, good_document())

    assert main(["load", str(path)]) == 0

    assert capsys.readouterr().out == (
        f"loaded 1 external system (1 new), 2 configurations and 2 responses (2 new) from {path}\n"
    )
    assert counts(db) == {
        "external_systems": 1,
        "external_system_configurations": 2,
        "responses": 2,
        "respondents": 2,
        "representatives": 1,
    }
    with db.connect() as connection:
        assert connection.execute(sa.select(tables.responses.c.id).order_by("id")).scalars().all() == [18, 19]
        assert connection.execute(sa.select(tables.external_systems.c.id)).scalar_one() == 43


def test_loading_a_changed_file_again_updates_rows_and_adds_none(db, tmp_path, capsys):
    assert main(["load", str(a_file(tmp_path, good_document()))]) == 0
    before = counts(db)

    changed = a_file(tmp_path, good_document("CCD Manchester (renamed)", "Jo Smith", "Manchester_Test"), "v2.json")
    assert main(["load", str(changed)]) == 0

    assert "1 external system (0 new)" in capsys.readouterr().out
    assert counts(db) == before
    with db.connect() as connection:
        assert connection.execute(sa.select(tables.external_systems.c.name)).scalar_one() == "CCD Manchester (renamed)"
        claimant = sa.select(tables.responses.c.claimants_name).where(tables.responses.c.id == 18)
        assert connection.execute(claimant).scalar_one() == "Jo Smith"
        case_type = sa.select(tables.external_system_configurations.c.value).where(
            tables.external_system_configurations.c.key == "case_type_id"
        )
        assert connection.execute(case_type).scalar_one() == "Manchester_Test"


def with_bad_response(**bad) -> dict:
    document = good_document()
    document["responses"].append(
        {
            "id": 20,
            "reference": "242000000020",
            "case_number": "2400020/2024",
            "claimants_name": "Pat Lee",
            "respondent": {"name": "Harbour Print Ltd"},
            **bad,
        }
    )
    return document


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            with_bad_response(defend_claim="yes"),
            "responses[2] (id 20): defend_claim must be true or false, not a string",
        ),
        (with_bad_response(respondent={}), "responses[2] (id 20): respondent.name is required"),
        (with_bad_response(respondent=None), "responses[2] (id 20): respondent must be an object, not null"),
        (with_bad_response(claimant_name="Pat"), "responses[2] (id 20): claimant_name is not a known field"),
        (with_bad_response(id=19), "responses[2] (id 19): id 19 is also used by responses[1]"),
        (
            with_bad_response(reference="772000000020"),
            "responses[2] (id 20): office code 77 (the first two digits of the reference) is not a known office",
        ),
        (with_bad_response(office_code=12), "responses[2] (id 20): office code 12 is not a known office"),
        (
            {
                **good_document(),
                "external_systems": [{"id": 43, "name": "CCD", "reference": "ccd", "office_codes": [24, "41"]}],
            },
            "external_systems[0] (id 43): office_codes[1] must be an integer, not a string",
        ),
    ],
)
def test_one_bad_record_writes_nothing_and_names_the_record(db, tmp_path, capsys, document, problem):
    path = a_file(tmp_path, document)

    assert main(["load", str(path)]) == 1

    assert capsys.readouterr().err == (
        f"export-responses: {path} was not loaded, nothing was written (1 problem):\n  {problem}\n"
    )
    assert set(counts(db).values()) == {0}


def test_a_bad_load_leaves_earlier_rows_as_they_were(db, tmp_path, capsys):
    assert main(["load", str(a_file(tmp_path, good_document()))]) == 0
    before = counts(db)
    renamed = with_bad_response(reference="772000000020")
    renamed["external_systems"][0]["name"] = "CCD Manchester (renamed)"

    assert main(["load", str(a_file(tmp_path, renamed, "bad.json"))]) == 1

    assert "office code 77" in capsys.readouterr().err
    assert counts(db) == before
    with db.connect() as connection:
        assert connection.execute(sa.select(tables.external_systems.c.name)).scalar_one() == "CCD Manchester"


def test_a_missing_file(db, tmp_path, capsys):
    missing = tmp_path / "missing.json"

    assert main(["load", str(missing)]) == 1

    assert capsys.readouterr().err == (
        f"export-responses: {missing} was not loaded, nothing was written (1 problem):\n"
        f"  cannot read {missing}: No such file or directory\n"
    )


def test_a_file_that_is_not_json(db, tmp_path, capsys):
    path = tmp_path / "data.json"
    path.write_text('{"responses": [')

    assert main(["load", str(path)]) == 1

    assert f"{path} is not valid JSON: Expecting value: line 1 column 16 (char 15)" in capsys.readouterr().err
    assert set(counts(db).values()) == {0}


def test_seed_creates_the_development_systems(db, capsys):
    assert main(["seed"]) == 0

    assert capsys.readouterr().out == ("seeded 6 external systems (6 new), 8 configurations and 0 responses (0 new)\n")
    with db.connect() as connection:
        systems = connection.execute(sa.select(tables.external_systems)).mappings().all()
        settings = connection.execute(
            sa.select(
                tables.external_systems.c.reference,
                tables.external_system_configurations.c.key,
                tables.external_system_configurations.c.value,
            ).join(
                tables.external_systems,
                tables.external_systems.c.id == tables.external_system_configurations.c.external_system_id,
            )
        ).all()
    found = {
        s["reference"]: (
            s["name"],
            s["office_codes"],
            s["response_remote_office"],
            {key: value for reference, key, value in settings if reference == s["reference"]},
        )
        for s in systems
    }
    assert found == SEEDED
    assert {(s["enabled"], s["export_responses"], s["export_claims"], s["export_queue"]) for s in systems} == {
        (True, True, True, "external_system_ccd")
    }


def response_rows(engine) -> list[sa.Row]:
    columns = [tables.responses.c[name] for name in ("id", "reference", "claimants_name", "respondent_id")]
    with engine.connect() as connection:
        return connection.execute(sa.select(*columns).order_by(tables.responses.c.id)).all()


def test_seed_with_demo_responses_is_idempotent(db, capsys):
    assert main(["seed", "--demo-responses", "12"]) == 0
    first = counts(db)
    first_rows = response_rows(db)

    assert main(["seed", "--demo-responses", "12"]) == 0

    assert capsys.readouterr().out.splitlines()[-1] == (
        "seeded 6 external systems (0 new), 8 configurations and 12 responses (0 new)"
    )
    assert first["responses"] == first["respondents"] == 12
    assert first["representatives"] == 4
    assert counts(db) == first
    assert response_rows(db) == first_rows


def test_demo_responses_belong_to_the_seeded_offices(db):
    assert main(["seed", "--demo-responses", "6"]) == 0

    with db.connect() as connection:
        rows = connection.execute(
            sa.select(tables.responses.c.reference, tables.responses.c.case_number, tables.offices.c.code).join(
                tables.offices, tables.offices.c.id == tables.responses.c.office_id
            )
        ).all()
    assert sorted(code for _reference, _case, code in rows) == [14, 22, 24, 41, 60, 80]
    for reference, case_number, code in rows:
        assert len(reference) == 12 and reference.isdigit() and reference[:2] == case_number[:2] == f"{code:02d}"
        assert case_number[2:7].isdigit() and case_number[7] == "/" and case_number[8:].isdigit()


def test_seed_keeps_the_id_of_a_system_loaded_before(db, tmp_path):
    assert main(["load", str(a_file(tmp_path, good_document()))]) == 0

    assert main(["seed"]) == 0

    with db.connect() as connection:
        systems = tables.external_systems
        manchester = sa.select(systems.c.id).where(systems.c.reference == "ccd_manchester")
        assert connection.execute(manchester).scalar_one() == 43
        assert count_rows(connection, tables.external_systems) == 6


def test_a_row_added_after_a_load_gets_a_fresh_id(db, tmp_path):
    assert main(["load", str(a_file(tmp_path, good_document()))]) == 0

    assert main(["seed", "--demo-responses", "1"]) == 0

    with db.connect() as connection:
        ids = connection.execute(sa.select(tables.responses.c.id).order_by(tables.responses.c.id)).scalars().all()
        glasgow = sa.select(tables.external_systems.c.id).where(tables.external_systems.c.reference == "ccd_glasgow")
        assert connection.execute(glasgow).scalar_one() > 43
    assert ids == [18, 19, 20]


def test_seed_refuses_a_negative_count(db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["seed", "--demo-responses", "-1"])
    assert exit_.value.code == 2
    assert "--demo-responses: must be from 0 to 100000, not -1" in capsys.readouterr().err


def test_an_unreachable_database_is_reported_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")

    assert main(["load", str(a_file(tmp_path, good_document()))]) == 1

    error = capsys.readouterr().err
    assert (
        error.startswith("export-responses: ")
        and "cannot use the database at postgresql+psycopg://postgres@127.0.0.1:1/nowhere" in error
    )
    assert "Traceback" not in error


@pytest.mark.parametrize("command", [["migrate"], ["status"]])
def test_every_command_reports_an_unreachable_database_in_one_line(command, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")

    assert main(command) == 1

    error = capsys.readouterr().err
    assert error.startswith(
        "export-responses: cannot use the database at postgresql+psycopg://postgres@127.0.0.1:1/nowhere: "
    )
    assert error.rstrip().endswith("check DATABASE_URL and that the database server is running")
    assert error.count("\n") == 1
    assert "Traceback" not in error


@pytest.mark.parametrize("url", ["mysql://user:secret@host/db", "not a url"])
def test_a_database_url_of_another_kind_is_refused_before_anything_runs(url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", url)

    assert main(["status"]) == 2

    error = capsys.readouterr().err
    assert (
        error
        == "export-responses: DATABASE_URL must be a PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST/DB) or SQLite (sqlite:///PATH) URL\n"
    )
