"""The loader on SQLite and PostgreSQL: upserts, one transaction, sequences kept ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.engine import create_engine
from adapters.sql.loading import load
from application.loading import (
    Dataset,
    ExternalSystemRecord,
    RecordProblem,
    Refused,
    RepresentativeRecord,
    RespondentRecord,
    ResponseRecord,
    Written,
)
from domain.external_systems import Configuration
from tests.builders import NOW, count_rows

LATER = NOW + timedelta(days=1)
COUNTED = (
    tables.external_systems,
    tables.external_system_configurations,
    tables.responses,
    tables.respondents,
    tables.representatives,
)


def a_system(system_id=43, **changes) -> ExternalSystemRecord:
    system = ExternalSystemRecord(
        id=system_id,
        name="CCD Manchester",
        reference=f"ccd_{system_id}",
        office_codes=(24,),
        export_responses=True,
        configurations=(Configuration("case_type_id", "Manchester_Dev"),),
    )
    return attrs.evolve(system, **changes)


def a_response(response_id=18, **changes) -> ResponseRecord:
    response = ResponseRecord(
        id=response_id,
        reference=f"24{response_id or 0:010d}",
        case_number="2412345/2024",
        claimants_name="Jo Bloggs",
        respondent=RespondentRecord(name="Acme Ltd", organisation_employ_gb=40),
        representative=RepresentativeRecord(name="Sam Law"),
        queried_hours=Decimal("37.50"),
        date_of_receipt=datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
    )
    return attrs.evolve(response, **changes)


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: count_rows(connection, table) for table in COUNTED}


def row(engine, table: sa.Table, **where) -> sa.RowMapping:
    query = sa.select(table).where(*[table.c[name] == value for name, value in where.items()])
    with engine.connect() as connection:
        return connection.execute(query).mappings().one()


def test_a_dataset_is_written_with_its_ids(engine):
    written = load(engine, Dataset((a_system(),), (a_response(),)), NOW)

    assert written == Written(1, 1, 1, 1, 1)
    system = row(engine, tables.external_systems, id=43)
    assert (system["reference"], system["office_codes"], system["export_responses"]) == ("ccd_43", [24], True)
    response = row(engine, tables.responses, id=18)
    manchester = row(engine, tables.offices, code=24)
    assert (response["reference"], response["office_id"], response["queried_hours"]) == (
        "240000000018",
        manchester["id"],
        Decimal("37.50"),
    )
    assert row(engine, tables.respondents, id=response["respondent_id"])["name"] == "Acme Ltd"
    assert row(engine, tables.representatives, id=response["representative_id"])["name"] == "Sam Law"


def test_loading_twice_updates_in_place(engine):
    load(engine, Dataset((a_system(),), (a_response(),)), NOW)
    before = counts(engine)
    first = row(engine, tables.responses, id=18)

    changed = Dataset(
        (a_system(name="CCD Manchester (renamed)", enabled=False),),
        (a_response(claimants_name="Jo Smith", respondent=RespondentRecord(name="Acme Holdings Ltd")),),
    )
    assert load(engine, changed, LATER) == Written(1, 0, 1, 1, 0)

    assert counts(engine) == before
    system = row(engine, tables.external_systems, id=43)
    assert (system["name"], system["enabled"]) == ("CCD Manchester (renamed)", False)
    response = row(engine, tables.responses, id=18)
    assert response["claimants_name"] == "Jo Smith"
    assert response["respondent_id"] == first["respondent_id"]
    respondent = row(engine, tables.respondents, id=first["respondent_id"])
    assert (respondent["name"], respondent["organisation_employ_gb"]) == ("Acme Holdings Ltd", None)
    assert respondent["created_at"] < respondent["updated_at"]
    assert response["created_at"] == first["created_at"]
    assert response["updated_at"] == first["updated_at"] + timedelta(days=1)


def test_configurations_are_upserted_by_system_and_key(engine):
    load(engine, Dataset((a_system(),)), NOW)
    first = row(engine, tables.external_system_configurations, external_system_id=43, key="case_type_id")

    secrets = (Configuration("case_type_id", "Manchester_Test"), Configuration("password", "s3cret", can_read=False))
    assert load(engine, Dataset((a_system(configurations=secrets),)), LATER).configurations == 2

    case_type = row(engine, tables.external_system_configurations, external_system_id=43, key="case_type_id")
    assert (case_type["id"], case_type["value"]) == (first["id"], "Manchester_Test")
    password = row(engine, tables.external_system_configurations, external_system_id=43, key="password")
    assert (password["value"], password["can_read"], password["can_write"]) == ("s3cret", False, True)
    assert counts(engine)["external_system_configurations"] == 2


def test_a_representative_is_added_and_removed_with_its_response(engine):
    load(engine, Dataset(responses=(a_response(representative=None),)), NOW)
    assert counts(engine)["representatives"] == 0

    load(engine, Dataset(responses=(a_response(),)), LATER)
    assert row(engine, tables.responses, id=18)["representative_id"] is not None

    load(engine, Dataset(responses=(a_response(representative=None),)), LATER)
    assert row(engine, tables.responses, id=18)["representative_id"] is None
    assert counts(engine)["representatives"] == 0


def test_an_explicit_office_code_wins_over_the_reference(engine):
    load(engine, Dataset(responses=(a_response(office_code=99),)), NOW)
    assert row(engine, tables.responses, id=18)["office_id"] == row(engine, tables.offices, code=99)["id"]


def test_an_unknown_office_refuses_the_whole_dataset(engine):
    dataset = Dataset((a_system(),), (a_response(), a_response(19, reference="770000000019")))

    assert load(engine, dataset, NOW) == Refused(
        (RecordProblem("responses", 1, "office code 77 (the first two digits of the reference) is not a known office"),)
    )
    assert set(counts(engine).values()) == {0}


def test_a_reference_held_by_another_id_refuses_the_whole_dataset(engine):
    load(engine, Dataset((a_system(),), (a_response(),)), NOW)
    before = counts(engine)
    clash = Dataset((a_system(44, reference="ccd_43"),), (a_response(20, reference="240000000018"),))

    assert load(engine, clash, LATER) == Refused(
        (
            RecordProblem("external_systems", 0, "reference ccd_43 already belongs to external system 43"),
            RecordProblem("responses", 0, "reference 240000000018 already belongs to response 18"),
        )
    )
    assert counts(engine) == before


@pytest.mark.postgres
def test_a_write_the_database_refuses_undoes_the_whole_load(postgres_url):
    # The file parser refuses such a number; here it reaches PostgreSQL's integer column,
    # after the system and the first response were written, and all of it is rolled back.
    engine = create_engine(postgres_url)
    too_many = a_response(19, respondent=RespondentRecord(name="Big Ltd", organisation_employ_gb=2**40))

    with pytest.raises(sa.exc.DataError):
        load(engine, Dataset((a_system(),), (a_response(18), too_many)), NOW)

    assert set(counts(engine).values()) == {0}
    engine.dispose()


def insert_without_id(connection: sa.Connection, table: sa.Table, **values) -> int:
    statement = sa.insert(table).returning(table.c.id)
    return connection.execute(statement, {**values, "created_at": NOW, "updated_at": NOW}).scalar_one()


def new_system(connection: sa.Connection, reference: str) -> int:
    return insert_without_id(
        connection,
        tables.external_systems,
        name="CCD New",
        reference=reference,
        office_codes=[24],
        enabled=True,
        export_queue="external_system_ccd",
        export_claims=False,
        export_responses=True,
        export_feedback_queue="default",
        always_save_export=False,
        response_remote_office=False,
    )


def test_rows_inserted_later_without_an_id_do_not_collide(engine):
    load(engine, Dataset((a_system(43),), (a_response(18),)), NOW)

    with engine.begin() as connection:
        system_id = new_system(connection, "ccd_new")
        respondent_id = connection.execute(sa.select(tables.responses.c.respondent_id)).scalar_one()
        response_id = insert_without_id(
            connection,
            tables.responses,
            reference="240000000999",
            case_number="2400001/2024",
            claimants_name="A N Other",
            respondent_id=respondent_id,
            pdf_template_reference="et3-v1-en",
            email_template_reference="et3-v1-en",
        )

    assert (system_id, response_id) == (44, 19)


@pytest.mark.postgres
def test_a_sequence_ahead_of_the_rows_is_not_moved_back(postgres_url):
    # PostgreSQL only: SQLite reuses the largest id once its row is deleted, by design.
    engine = create_engine(postgres_url)
    load(engine, Dataset((a_system(50),)), NOW)
    with engine.begin() as connection:
        deleted = new_system(connection, "ccd_deleted")
        connection.execute(sa.delete(tables.external_systems).where(tables.external_systems.c.id == deleted))

    load(engine, Dataset((a_system(3, reference="ccd_low"),)), NOW)

    with engine.begin() as connection:
        assert new_system(connection, "ccd_new") == deleted + 1 == 52
    engine.dispose()


def test_upserting_by_reference_leaves_ids_to_the_database(engine):
    dataset = Dataset((a_system(None, reference="ccd_manchester"),), (a_response(None, reference="249000000001"),))

    assert load(engine, dataset, NOW, upsert_by="reference") == Written(1, 1, 1, 1, 1)
    first_ids = (
        row(engine, tables.external_systems, reference="ccd_manchester")["id"],
        row(engine, tables.responses, reference="249000000001")["id"],
    )
    before = counts(engine)

    assert load(engine, dataset, LATER, upsert_by="reference") == Written(1, 0, 1, 1, 0)
    assert counts(engine) == before
    assert (
        row(engine, tables.external_systems, reference="ccd_manchester")["id"],
        row(engine, tables.responses, reference="249000000001")["id"],
    ) == first_ids


def test_many_responses_keep_their_own_people(engine):
    many = tuple(
        a_response(
            n,
            respondent=RespondentRecord(f"Employer {n}"),
            representative=RepresentativeRecord(f"Rep {n}") if n % 2 == 0 else None,
        )
        for n in range(1, 1201)
    )

    load(engine, Dataset(responses=many), NOW)
    load(engine, Dataset(responses=many), LATER)

    after = counts(engine)
    assert (after["responses"], after["respondents"], after["representatives"]) == (1200, 1200, 600)
    for number in (1, 778, 1200):
        response = row(engine, tables.responses, id=number)
        assert row(engine, tables.respondents, id=response["respondent_id"])["name"] == f"Employer {number}"
    assert (
        row(engine, tables.representatives, id=row(engine, tables.responses, id=778)["representative_id"])["name"]
        == "Rep 778"
    )


def test_people_and_their_addresses_are_written_the_originals_way(engine):
    respondent = RespondentRecord(name="Acme Ltd", address_building="1", address_post_code="M1 1AA", disability=False)
    representative = RepresentativeRecord(name="Sam Law", address_street="High Street")
    response = a_response(respondent=respondent, representative=representative, continued_employment=True)
    load(engine, Dataset((a_system(),), (response,)), NOW)
    load(
        engine,
        Dataset(
            (a_system(),), (attrs.evolve(response, respondent=attrs.evolve(respondent, address_post_code="M2 2BB")),)
        ),
        LATER,
    )

    stored = row(engine, tables.responses, id=18)
    people = row(engine, tables.respondents, id=stored["respondent_id"])
    address = row(engine, tables.addresses, id=people["address_id"])
    assert (address["building"], address["post_code"]) == ("1", "M2 2BB")  # updated in place, not added
    agent = row(engine, tables.representatives, id=stored["representative_id"])
    assert row(engine, tables.addresses, id=agent["address_id"])["street"] == "High Street"
    with engine.connect() as connection:
        assert count_rows(connection, tables.addresses) == 2
    # The original keeps these yes/no answers as text.
    assert (people["disability"], stored["continued_employment"]) == ("false", "true")
