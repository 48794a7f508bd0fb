"""Use case of `load` and `seed`: upsert external systems and responses, all or nothing.

The records are one frozen value per row to upsert; `DataLoader` is the port that
writes them, and `load_data` the use case the commands call.
"""

from __future__ import annotations

import abc
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from attrs import frozen

from application.ports import Clock
from domain.external_systems import Configuration


@frozen
class ExternalSystemRecord:
    id: int | None  # None when upserting by reference; no default, so a load file must give it
    name: str
    reference: str
    office_codes: tuple[int, ...] = ()
    enabled: bool = True
    export_responses: bool = False
    export_claims: bool = False
    export_queue: str = "external_system_ccd"
    export_feedback_queue: str = "default"
    always_save_export: bool = False
    response_remote_office: bool = False
    configurations: tuple[Configuration, ...] = ()


@frozen
class RespondentRecord:
    name: str
    contact: str | None = None
    address_building: str | None = None
    address_street: str | None = None
    address_locality: str | None = None
    address_county: str | None = None
    address_post_code: str | None = None
    address_telephone_number: str | None = None
    alt_phone_number: str | None = None
    contact_preference: str | None = None
    email_address: str | None = None
    fax_number: str | None = None
    organisation_employ_gb: int | None = None
    organisation_more_than_one_site: bool | None = None
    employment_at_site_number: int | None = None
    acas_certificate_number: str | None = None
    disability: bool | None = None
    disability_information: str | None = None


@frozen
class RepresentativeRecord:
    name: str
    organisation_name: str | None = None
    address_building: str | None = None
    address_street: str | None = None
    address_locality: str | None = None
    address_county: str | None = None
    address_post_code: str | None = None
    address_telephone_number: str | None = None
    mobile_number: str | None = None
    representative_type: str | None = None
    dx_number: str | None = None
    reference: str | None = None
    contact_preference: str | None = None
    email_address: str | None = None


@frozen
class ResponseRecord:
    id: int | None  # as for ExternalSystemRecord.id
    reference: str
    case_number: str
    claimants_name: str
    respondent: RespondentRecord
    representative: RepresentativeRecord | None = None
    office_code: int | None = None  # None: the first two digits of the reference
    date_of_receipt: datetime | None = None
    agree_with_employment_dates: bool | None = None
    defend_claim: bool | None = None
    defend_claim_facts: str | None = None
    employment_start: date | None = None
    employment_end: date | None = None
    disagree_employment: str | None = None
    continued_employment: bool | None = None
    agree_with_claimants_description_of_job_or_title: bool | None = None
    queried_hours: Decimal | None = None
    queried_pay_before_tax: Decimal | None = None
    queried_pay_before_tax_period: str | None = None
    claim_information: str | None = None
    make_employer_contract_claim: bool | None = None
    # Required by the original; the ET3's first templates when a file gives none.
    pdf_template_reference: str = "et3-v1-en"
    email_template_reference: str = "et3-v1-en"

    @property
    def effective_office_code(self) -> int:
        return self.office_code if self.office_code is not None else int(self.reference[:2])


@frozen
class Dataset:
    external_systems: tuple[ExternalSystemRecord, ...] = ()
    responses: tuple[ResponseRecord, ...] = ()


@frozen
class RecordProblem:
    """Why one record cannot be written: `collection[index]` of the dataset."""

    collection: str
    index: int
    message: str


@frozen
class Refused:
    problems: tuple[RecordProblem, ...]


@frozen
class Written:
    external_systems: int
    new_external_systems: int
    configurations: int
    responses: int
    new_responses: int


# Rows are matched by `id` (explicit ids are kept) or by `reference` (ids left to the store).
UpsertBy = Literal["id", "reference"]


class DataLoader(abc.ABC):
    @abc.abstractmethod
    def load(self, dataset: Dataset, now: datetime, upsert_by: UpsertBy = "id") -> Written | Refused:
        """Upsert `dataset` in one transaction; when any record is refused, nothing is written."""


def load_data(dataset: Dataset, loader: DataLoader, clock: Clock, upsert_by: UpsertBy = "id") -> Written | Refused:
    """Write `dataset` as of now: all of it, or nothing and why."""
    return loader.load(dataset, clock.now(), upsert_by)
