"""Development data for `seed`: the CCD systems the original seeded, and demo ET3 responses.

Everything here is deterministic: demo response n is the same on every run whatever the
count asked for, so seeding again (with as many or more) updates rows rather than adding.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from application.loading import (
    ExternalSystemRecord,
    RepresentativeRecord,
    RespondentRecord,
    ResponseRecord,
)
from domain.external_systems import Configuration

MAX_DEMO_RESPONSES = 100_000
# name, reference, office code, configuration: the contract's table of seeded systems.
_CCD_SYSTEMS = (
    (
        "CCD Manchester",
        "ccd_manchester",
        24,
        {"case_type_id": "Manchester_Dev", "multiples_case_type_id": "Manchester_Multiples_Dev"},
    ),
    (
        "CCD Glasgow",
        "ccd_glasgow",
        41,
        {"case_type_id": "Glasgow_Dev", "multiples_case_type_id": "Glasgow_Multiples_Dev"},
    ),
    ("CCD London Central", "ccd_london_central", 22, {}),
    ("CCD Bristol", "ccd_bristol", 14, {}),
    (
        "CCD England And Wales (Reform)",
        "ccd_england_and_wales_reform",
        60,
        {"case_type_id": "ET_EnglandWales", "send_request_id": "true"},
    ),
    ("CCD Scotland (Reform)", "ccd_scotland_reform", 80, {"case_type_id": "ET_Scotland", "send_request_id": "true"}),
)
_REMOTE_OFFICE = {"ccd_england_and_wales_reform"}
_TOWNS = {
    24: ("Manchester", "M"),
    41: ("Glasgow", "G"),
    22: ("London", "WC"),
    14: ("Bristol", "BS"),
    60: ("Birmingham", "B"),
    80: ("Edinburgh", "EH"),
}
_FIRST_NAMES = (
    "Amelia",
    "Oliver",
    "Isla",
    "Harry",
    "Priya",
    "Mohammed",
    "Grace",
    "Jack",
    "Siobhan",
    "Tomasz",
    "Chloe",
    "Kwame",
    "Eilidh",
    "Rhys",
    "Fatima",
    "George",
    "Hannah",
    "Callum",
)
_LAST_NAMES = (
    "Smith",
    "Jones",
    "Patel",
    "Williams",
    "Brown",
    "Taylor",
    "Khan",
    "Davies",
    "Wilson",
    "Campbell",
    "Evans",
    "Kowalski",
    "Murray",
    "Thomas",
    "Roberts",
    "Okafor",
    "Walker",
)
_COMPANY_WORDS = (
    "Northgate",
    "Pennine",
    "Clyde",
    "Riverside",
    "Harbour",
    "Oakwood",
    "Summit",
    "Kingfisher",
    "Meridian",
    "Thistle",
    "Severn",
    "Beacon",
    "Highland",
    "Ashford",
    "Crown",
)
_COMPANY_TRADES = (
    "Logistics",
    "Care Homes",
    "Engineering",
    "Retail",
    "Hospitality",
    "Construction",
    "Software",
    "Cleaning Services",
    "Print",
    "Foods",
)
_STREETS = ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane", "Park Avenue", "King Street")


def ccd_external_systems() -> tuple[ExternalSystemRecord, ...]:
    """The six development CCD systems; ids are left to the database (seed upserts by reference)."""
    return tuple(
        ExternalSystemRecord(
            id=None,
            name=name,
            reference=reference,
            office_codes=(office,),
            enabled=True,
            export_responses=True,
            export_claims=True,
            export_queue="external_system_ccd",
            response_remote_office=reference in _REMOTE_OFFICE,
            configurations=tuple(Configuration(key, value) for key, value in settings.items()),
        )
        for name, reference, office, settings in _CCD_SYSTEMS
    )


def demo_responses(count: int) -> tuple[ResponseRecord, ...]:
    return tuple(demo_response(number) for number in range(1, count + 1))


def demo_response(number: int) -> ResponseRecord:
    """Demo response `number` (from 1): an ET3 for one of the seeded systems' offices."""
    rng = random.Random(number)
    office = _CCD_SYSTEMS[(number - 1) % len(_CCD_SYSTEMS)][2]
    received = datetime(2024, 1, 2, 9, tzinfo=UTC) + timedelta(
        days=rng.randrange(360), hours=rng.randrange(8), minutes=rng.randrange(60)
    )
    started = received.date() - timedelta(days=rng.randrange(400, 4000))
    still_employed = rng.random() < 0.2
    defends = rng.random() < 0.8
    return ResponseRecord(
        id=None,
        # A 9 after the office code keeps demo references apart from real ones.
        reference=f"{office:02d}9{number:09d}",
        case_number=f"{office:02d}{number * 7919 % 100_000:05d}/{received.year}",
        claimants_name=_person(rng),
        respondent=_respondent(rng, office),
        representative=_representative(rng, office) if number % 3 == 0 else None,
        date_of_receipt=received,
        agree_with_employment_dates=rng.random() < 0.7,
        defend_claim=defends,
        defend_claim_facts=_defence(rng) if defends else None,
        employment_start=started,
        employment_end=None if still_employed else _before(received.date(), started, rng),
        continued_employment=still_employed,
        agree_with_claimants_description_of_job_or_title=rng.random() < 0.8,
        queried_hours=Decimal(rng.choice(("16.00", "22.50", "30.00", "37.50", "40.00"))),
        queried_pay_before_tax=Decimal(rng.randrange(120_000, 450_000)) / 100,
        queried_pay_before_tax_period=rng.choice(("Monthly", "Weekly")),
        claim_information="Demo data generated by `export-responses seed`.",
        make_employer_contract_claim=rng.random() < 0.1,
        pdf_template_reference="et3-v1-en",
        email_template_reference="et3-v1-en",
    )


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


def _address(rng: random.Random, office: int) -> dict:
    town, postcode_area = _TOWNS[office]
    return {
        "address_building": str(rng.randrange(1, 200)),
        "address_street": rng.choice(_STREETS),
        "address_locality": town,
        "address_post_code": f"{postcode_area}{rng.randrange(1, 20)} {rng.randrange(1, 9)}"
        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
        "address_telephone_number": f"0{rng.randrange(1000, 2000)} {rng.randrange(100000, 999999)}",
    }


def _respondent(rng: random.Random, office: int) -> RespondentRecord:
    company = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_TRADES)} Ltd"
    domain = company.lower().replace(" ltd", "").replace(" ", "") + ".example.com"
    return RespondentRecord(
        name=company,
        contact=_person(rng),
        **_address(rng, office),
        contact_preference=rng.choice(("email", "post")),
        email_address=f"hr@{domain}",
        organisation_employ_gb=rng.randrange(5, 5000),
        organisation_more_than_one_site=rng.random() < 0.5,
        employment_at_site_number=rng.randrange(1, 300),
        acas_certificate_number=f"R{rng.randrange(100000, 999999)}/24/{rng.randrange(10, 99)}",
        disability=False,
    )


def _representative(rng: random.Random, office: int) -> RepresentativeRecord:
    firm = f"{rng.choice(_LAST_NAMES)} & {rng.choice(_LAST_NAMES)} Solicitors LLP"
    return RepresentativeRecord(
        name=_person(rng),
        organisation_name=firm,
        **_address(rng, office),
        representative_type="solicitor",
        reference=f"EMP/{rng.randrange(1000, 9999)}",
        contact_preference="email",
        email_address=f"employment@{firm.split()[0].lower()}-law.example.com",
    )


def _defence(rng: random.Random) -> str:
    return rng.choice(
        (
            "The claimant was dismissed for gross misconduct after a fair disciplinary process.",
            "The claimant resigned and was not constructively dismissed.",
            "All wages due were paid in full; the claimed overtime was never authorised.",
            "The role was genuinely redundant and the selection criteria were applied fairly.",
        )
    )


def _before(received: date, started: date, rng: random.Random) -> date:
    return started + timedelta(days=rng.randrange(max(1, (received - started).days - 14)))
