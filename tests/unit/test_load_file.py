"""The load file is parsed strictly, and every problem names its record."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from adapters.sql.tables import REPRESENTATIVE_FIELDS, RESPONDENT_FIELDS, RESPONSE_FIELDS
from application.loading import RepresentativeRecord, RespondentRecord, ResponseRecord
from domain.external_systems import Configuration
from entrypoints.cli.load_file import BadLoadFile, parse_load_file, read_load_file


def system(**overrides) -> dict:
    return {"id": 7, "name": "CCD Manchester", "reference": "ccd_manchester", **overrides}


def response(**overrides) -> dict:
    return {
        "id": 42,
        "reference": "242000000100",
        "case_number": "2412345/2024",
        "claimants_name": "Jo Bloggs",
        "respondent": {"name": "Acme Ltd"},
        **overrides,
    }


def parse(document) -> object:
    return parse_load_file(json.dumps(document).encode())


def problems_in(document) -> list[str]:
    with pytest.raises(BadLoadFile) as refused:
        parse(document)
    return list(refused.value.problems)


def test_an_empty_object_is_an_empty_dataset():
    dataset = parse({})
    assert dataset.external_systems == () and dataset.responses == ()


def test_an_external_system_takes_the_tables_defaults():
    (loaded,) = parse({"external_systems": [system()]}).external_systems
    assert (loaded.id, loaded.office_codes, loaded.enabled, loaded.export_responses, loaded.export_claims) == (
        7,
        (),
        True,
        False,
        False,
    )
    assert (loaded.export_queue, loaded.export_feedback_queue, loaded.response_remote_office) == (
        "external_system_ccd",
        "default",
        False,
    )


def test_configurations_are_strings_or_objects_for_secrets():
    settings = {
        "case_type_id": "Manchester_Dev",
        "password": {"value": "s3cret"},
        "user": {"value": "admin", "can_read": True, "can_write": False},
    }
    (loaded,) = parse({"external_systems": [system(configurations=settings)]}).external_systems
    assert loaded.configurations == (
        Configuration("case_type_id", "Manchester_Dev", can_read=True, can_write=True),
        Configuration("password", "s3cret", can_read=False, can_write=True),
        Configuration("user", "admin", can_read=True, can_write=False),
    )


def test_a_response_with_its_people_dates_and_amounts():
    document = response(
        representative={"name": "Sam Law", "organisation_name": "Law LLP"},
        respondent={"name": "Acme Ltd", "organisation_employ_gb": 40, "disability": False},
        office_code=22,
        date_of_receipt="2024-03-01T10:15:00+01:00",
        employment_start="2019-05-01",
        queried_hours=37.5,
        queried_pay_before_tax=2150,
        defend_claim=True,
    )
    (loaded,) = parse({"responses": [document]}).responses
    assert loaded.respondent == RespondentRecord(name="Acme Ltd", organisation_employ_gb=40, disability=False)
    assert loaded.representative == RepresentativeRecord(name="Sam Law", organisation_name="Law LLP")
    assert loaded.date_of_receipt == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert loaded.employment_start == date(2019, 5, 1)
    assert (loaded.queried_hours, loaded.queried_pay_before_tax) == (Decimal("37.5"), Decimal("2150"))
    assert (loaded.office_code, loaded.defend_claim) == (22, True)


def test_a_time_without_an_offset_is_utc():
    (loaded,) = parse({"responses": [response(date_of_receipt="2024-03-01T10:15:00")]}).responses
    assert loaded.date_of_receipt == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"external_systems": [system(id="7")]}, "external_systems[0]: id must be an integer, not a string"),
        (
            {"external_systems": [system(enabled=1)]},
            "external_systems[0] (id 7): enabled must be true or false, not a number",
        ),
        (
            {"external_systems": [system(office_codes=[24, "41"])]},
            "external_systems[0] (id 7): office_codes[1] must be an integer, not a string",
        ),
        (
            {"external_systems": [system(office_codes="24")]},
            "external_systems[0] (id 7): office_codes must be an array of integers, not a string",
        ),
        (
            {"external_systems": [system(office_codes=[True])]},
            "external_systems[0] (id 7): office_codes[0] must be an integer, not a boolean",
        ),
        (
            {"external_systems": [system(configurations={"case_type_id": 5})]},
            "external_systems[0] (id 7): configurations.case_type_id must be a string, or an object with value, "
            "can_read and can_write, not a number",
        ),
        (
            {"external_systems": [system(configurations={"password": {"value": "x", "can_read": "no"}})]},
            "external_systems[0] (id 7): configurations.password.can_read must be true or false, not a string",
        ),
        ({"responses": [response(id=True)]}, "responses[0]: id must be an integer, not a boolean"),
        ({"responses": [response(id=0)]}, "responses[0] (id 0): id must be an integer from 1 to 9223372036854775807"),
        (
            {"responses": [response(reference="24200000010")]},
            "responses[0] (id 42): reference must be 12 digits, the first two an office code, e.g. 242000000100",
        ),
        (
            {"responses": [response(reference=242000000100)]},
            "responses[0] (id 42): reference must be a string, not a number",
        ),
        (
            {"responses": [response(queried_hours="37.5")]},
            "responses[0] (id 42): queried_hours must be a number, not a string",
        ),
        (
            {"responses": [response(queried_hours=37.555)]},
            "responses[0] (id 42): queried_hours must have at most 2 decimal places",
        ),
        (
            {"responses": [response(queried_hours=1_000_000)]},
            "responses[0] (id 42): queried_hours must be a number between -1000000 and 1000000",
        ),
        (
            {"responses": [response(employment_start="01/05/2019")]},
            "responses[0] (id 42): employment_start must be a date such as 2024-01-31",
        ),
        (
            {"responses": [response(date_of_receipt="yesterday")]},
            "responses[0] (id 42): date_of_receipt must be a date and time such as 2024-01-31T09:30:00Z",
        ),
        (
            {"responses": [response(respondent={"name": "Acme", "organisation_employ_gb": "40"})]},
            "responses[0] (id 42): respondent.organisation_employ_gb must be an integer, not a string",
        ),
        (
            {"responses": [response(respondent={"name": "Acme", "organisation_employ_gb": 2**31})]},
            "responses[0] (id 42): respondent.organisation_employ_gb must be an integer from -2147483648 to 2147483647",
        ),
        (
            {"responses": [response(respondent="Acme")]},
            "responses[0] (id 42): respondent must be an object, not a string",
        ),
        ({"responses": [response(claimants_name=" ")]}, "responses[0] (id 42): claimants_name must not be blank"),
        ({"responses": ["Acme"]}, "responses[0]: must be an object, not a string"),
        ({"responses": {"id": 42}}, "responses must be an array, not an object"),
    ],
)
def test_nothing_is_coerced(document, expected):
    assert problems_in(document) == [expected]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"responses": [response(), response(id=43, respondent={})]},
            "responses[1] (id 43): respondent.name is required",
        ),
        (
            {"responses": [{key: value for key, value in response().items() if key != "respondent"}]},
            "responses[0] (id 42): respondent is required",
        ),
        ({"responses": [response(respondent=None)]}, "responses[0] (id 42): respondent must be an object, not null"),
        (
            {"external_systems": [{"id": 7, "name": "CCD Manchester"}]},
            "external_systems[0] (id 7): reference is required",
        ),
        (
            {"external_systems": [{"name": "CCD Manchester", "reference": "ccd_manchester"}]},
            "external_systems[0]: id is required",
        ),
        ({"external_systems": [system(id=None)]}, "external_systems[0]: id must be an integer, not null"),
    ],
)
def test_required_fields(document, expected):
    assert problems_in(document) == [expected]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"external_systems": [system(enabeld=True)]}, "external_systems[0] (id 7): enabeld is not a known field"),
        (
            {"responses": [response(respondent={"name": "Acme", "adress_street": "High St"})]},
            "responses[0] (id 42): respondent.adress_street is not a known field",
        ),
        (
            {"external_systems": [system(configurations={"password": {"value": "x", "secret": True}})]},
            "external_systems[0] (id 7): configurations.password.secret is not a known field",
        ),
        (
            {"responses": [], "claims": []},
            "claims is not a known top-level key (expected external_systems or responses)",
        ),
    ],
)
def test_unknown_keys_are_refused(document, expected):
    assert problems_in(document) == [expected]


def test_ids_and_references_are_unique_within_the_file():
    document = {
        "external_systems": [system(), system(reference="ccd_other"), system(id=8)],
        "responses": [response(), response(id=43), response(id=44, reference="242000000101")],
    }
    assert problems_in(document) == [
        "external_systems[1] (id 7): id 7 is also used by external_systems[0]",
        "external_systems[2] (id 8): reference ccd_manchester is also used by external_systems[0]",
        "responses[1] (id 43): reference 242000000100 is also used by responses[0]",
    ]


def test_every_problem_is_reported_not_just_the_first():
    document = {
        "external_systems": [system(office_codes=["24"], typo=1)],
        "responses": [response(), response(id=43, reference="1"), {"id": 44}],
    }
    assert problems_in(document) == [
        "external_systems[0] (id 7): office_codes[0] must be an integer, not a string",
        "external_systems[0] (id 7): typo is not a known field",
        "responses[1] (id 43): reference must be 12 digits, the first two an office code, e.g. 242000000100",
        "responses[2] (id 44): reference is required",
        "responses[2] (id 44): case_number is required",
        "responses[2] (id 44): claimants_name is required",
        "responses[2] (id 44): respondent is required",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "data.json is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b'{"responses": [}', "data.json is not valid JSON: Expecting value: line 1 column 16 (char 15)"),
        (b'{"responses": [{"id": NaN}]}', "data.json is not valid JSON: NaN is not valid JSON"),
        (
            b'{"responses": [{"id": 1, "id": 2}]}',
            "data.json is not valid JSON: the key 'id' appears twice in one object",
        ),
        (b"\xff\xff\xff", "data.json is not valid JSON: it is not UTF-8 text"),
        (b"[]", "data.json must hold a JSON object with external_systems and responses, not an array"),
    ],
)
def test_a_file_that_is_not_a_json_object(raw, expected):
    with pytest.raises(BadLoadFile) as refused:
        parse_load_file(raw, "data.json")
    assert refused.value.problems == (expected,)


def test_a_missing_file(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(BadLoadFile) as refused:
        read_load_file(missing)
    assert refused.value.problems == (f"cannot read {missing}: No such file or directory",)


def test_the_records_hold_every_column_of_their_tables():
    # A column added to the schema must be loadable: these lists come from tables.py.
    assert [field.name for field in attrs.fields(RespondentRecord)] == RESPONDENT_FIELDS
    assert [field.name for field in attrs.fields(RepresentativeRecord)] == REPRESENTATIVE_FIELDS
    not_columns = {"id", "respondent", "representative", "office_code"}
    assert {field.name for field in attrs.fields(ResponseRecord)} - not_columns == set(RESPONSE_FIELDS)
