"""The schema, with the original ET API's table and column names.

Alembic migrations create it (see `migrations/`); this metadata is what the
repositories query, and a test checks that the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only
PENDING = ("queued", "in_progress", "erroring")
# The predicate of the partial indexes on pending exports. A query uses such an index
# only when its WHERE has this very term, with these literal values (not parameters).
PENDING_PREDICATE = f"state IN {PENDING!r}"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


offices = sa.Table(
    "offices",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.Integer, nullable=False, unique=True),
    sa.Column("name", sa.String, nullable=False),
    *_timestamps(),
)

external_systems = sa.Table(
    "external_systems",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("reference", sa.String, nullable=False, unique=True),
    sa.Column("office_codes", Json, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("export_queue", sa.String, nullable=False),
    sa.Column("export_claims", sa.Boolean, nullable=False),
    sa.Column("export_responses", sa.Boolean, nullable=False),
    sa.Column("export_feedback_queue", sa.String, nullable=False),
    sa.Column("always_save_export", sa.Boolean, nullable=False),
    sa.Column("response_remote_office", sa.Boolean, nullable=False),
    *_timestamps(),
)

external_system_configurations = sa.Table(
    "external_system_configurations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("external_system_id", Id, sa.ForeignKey("external_systems.id"), nullable=False),
    sa.Column("key", sa.String, nullable=False),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("can_read", sa.Boolean, nullable=False),
    sa.Column("can_write", sa.Boolean, nullable=False),
    *_timestamps(),
    sa.UniqueConstraint("external_system_id", "key"),
)

_ADDRESS = ["address_building", "address_street", "address_locality", "address_county", "address_post_code"]
RESPONDENT_FIELDS = [
    "name", "contact", *_ADDRESS, "address_telephone_number", "alt_phone_number",
    "contact_preference", "email_address", "fax_number", "organisation_employ_gb",
    "organisation_more_than_one_site", "employment_at_site_number", "acas_certificate_number",
    "disability", "disability_information",
]  # fmt: skip
REPRESENTATIVE_FIELDS = [
    "name", "organisation_name", *_ADDRESS, "address_telephone_number", "mobile_number",
    "representative_type", "dx_number", "reference", "contact_preference", "email_address",
]  # fmt: skip
_TEXT_IN_RESPONSE = {"defend_claim_facts", "claim_information", "queried_hours", "queried_pay_before_tax"}


def _people(name: str, fields: list[str]) -> sa.Table:
    numbers = {"organisation_employ_gb", "employment_at_site_number"}
    flags = {"organisation_more_than_one_site", "disability"}
    columns = [
        sa.Column(f, sa.Integer if f in numbers else sa.Boolean if f in flags else sa.String,
                  nullable=f != "name")
        for f in fields
    ]  # fmt: skip
    return sa.Table(name, metadata, sa.Column("id", Id, primary_key=True), *columns, *_timestamps())


respondents = _people("respondents", RESPONDENT_FIELDS)
representatives = _people("representatives", REPRESENTATIVE_FIELDS)

RESPONSE_FIELDS = {
    "reference": sa.String, "case_number": sa.String, "claimants_name": sa.String,
    "date_of_receipt": sa.DateTime(timezone=True), "agree_with_employment_dates": sa.Boolean,
    "defend_claim": sa.Boolean, "defend_claim_facts": sa.Text, "employment_start": sa.Date,
    "employment_end": sa.Date, "disagree_employment": sa.Text, "continued_employment": sa.Boolean,
    "agree_with_claimants_description_of_job_or_title": sa.Boolean, "queried_hours": sa.Numeric(8, 2),
    "queried_pay_before_tax": sa.Numeric(10, 2), "queried_pay_before_tax_period": sa.String,
    "claim_information": sa.Text, "make_employer_contract_claim": sa.Boolean,
    "pdf_template_reference": sa.String, "email_template_reference": sa.String,
}  # fmt: skip
REQUIRED_RESPONSE_FIELDS = {"reference", "case_number", "claimants_name"}

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("id", Id, primary_key=True),
    *[sa.Column(name, kind, nullable=name not in REQUIRED_RESPONSE_FIELDS) for name, kind in RESPONSE_FIELDS.items()],
    sa.Column("respondent_id", Id, sa.ForeignKey("respondents.id"), nullable=False),
    sa.Column("representative_id", Id, sa.ForeignKey("representatives.id")),
    sa.Column("office_id", Id, sa.ForeignKey("offices.id")),
    *_timestamps(),
    sa.UniqueConstraint("reference"),
)

exports = sa.Table(
    "exports",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("resource_type", sa.String, nullable=False),
    sa.Column("resource_id", Id, nullable=False),
    sa.Column("external_system_id", Id, sa.ForeignKey("external_systems.id"), nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("percent_complete", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message", sa.String),
    sa.Column("external_data", Json, nullable=False),
    sa.Column("command_uuid", sa.Uuid(as_uuid=False)),
    # The worker's bookkeeping: how often it was tried, when it is due, who holds it.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("claim_token", sa.Uuid(as_uuid=False)),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    *_timestamps(),
    sa.Index("ix_exports_command_uuid", "command_uuid"),
    # The worker's claims read pending exports in this order: the index holds them alone,
    # so a claim costs the same however many finished exports the table keeps.
    sa.Index("ix_exports_due", "resource_type", "next_attempt_at", "id", sqlite_where=sa.text(PENDING_PREDICATE),
             postgresql_where=sa.text(PENDING_PREDICATE)),  # fmt: skip
    sa.Index("ix_exports_resource", "resource_type", "resource_id", "external_system_id"),
    # At most one export of a resource to a system is still on its way: the database,
    # not a check-then-insert, keeps concurrent commands from queueing a second one.
    sa.Index(
        "uq_exports_pending",
        "resource_type",
        "resource_id",
        "external_system_id",
        unique=True,
        sqlite_where=sa.text(PENDING_PREDICATE),
        postgresql_where=sa.text(PENDING_PREDICATE),
    ),
)

export_events = sa.Table(
    "export_events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("export_id", Id, sa.ForeignKey("exports.id"), nullable=False),
    sa.Column("uuid", sa.Uuid(as_uuid=False), nullable=False, unique=True),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("percent_complete", sa.Integer),
    sa.Column("message", sa.String),
    sa.Column("data", Json, nullable=False),
    *_timestamps(),
    sa.Index("ix_export_events_export_id", "export_id"),
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("command", sa.String, nullable=False),
    sa.Column("request_body", sa.Text, nullable=False),
    sa.Column("request_headers", Json, nullable=False),
    sa.Column("response_body", sa.Text, nullable=False),
    sa.Column("response_headers", Json, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=False),
    *_timestamps(),
)

# The service's own: one row that the readiness probe writes, so that "ready" means the
# database takes a durable write now (not merely that it answers a query).
health_checks = sa.Table(
    "export_responses_health_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)
