"""The schema: the original ET API's tables, as it declares them, and this service's extras.

Every table this service shares with the original has the original's columns, types,
nullability, defaults and index names (`tests/sql/original_schema.sql` transcribes
them; a test compares). What the service needs beyond that is an extra nullable or
defaulted column, an extra index or an extra table, never a change to an original
column. Alembic migrations create it (see `migrations/`); this metadata is what the
repositories query, and a test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "%(table_name)s_pkey",
    }
)

Json = sa.JSON().with_variant(JSONB(), "postgresql")
# `integer[]` and `varchar[]` on PostgreSQL; a JSON array on SQLite, which has no arrays.
IntegerArray = sa.JSON().with_variant(ARRAY(sa.Integer), "postgresql")
StringArray = sa.JSON().with_variant(ARRAY(sa.String), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class UtcDateTime(sa.types.TypeDecorator):
    """`timestamp without time zone` holding UTC, as Rails writes it; aware UTC in Python.

    Handing PostgreSQL an aware value for a column without time zone would convert it
    to the session's time zone: the value is made naive UTC here, whatever the session.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


PENDING = ("queued", "in_progress", "erroring")
# Exports this service queued carry the command's uuid; the Rails side's never do.
OWNED = "command_uuid IS NOT NULL"
# The predicate of the partial indexes on this service's pending exports. A query uses
# such an index only when its WHERE has these very terms, with these literal values.
PENDING_PREDICATE = f"{OWNED} AND state IN {PENDING!r}"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    ]


def _id() -> sa.Column:
    return sa.Column("id", Id, primary_key=True)


def _strings(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.String) for name in names]


offices = sa.Table(
    "offices",
    metadata,
    _id(),
    sa.Column("code", sa.Integer),
    sa.Column("name", sa.String),
    sa.Column("is_default", sa.Boolean),
    *_strings("address", "telephone", "email"),
    *_timestamps(),
)

external_systems = sa.Table(
    "external_systems",
    metadata,
    _id(),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("reference", sa.String, nullable=False),
    sa.Column("office_codes", IntegerArray),
    sa.Column("enabled", sa.Boolean),
    sa.Column("export_queue", sa.String),
    sa.Column("export_claims", sa.Boolean),
    sa.Column("export_responses", sa.Boolean, nullable=False),
    sa.Column("export_feedback_queue", sa.String, nullable=False),
    sa.Column("always_save_export", sa.Boolean),
    sa.Column("response_remote_office", sa.Boolean, nullable=False),
    *_timestamps(),
    sa.Index("index_external_systems_on_reference", "reference", unique=True),
)

external_system_configurations = sa.Table(
    "external_system_configurations",
    metadata,
    _id(),
    sa.Column("external_system_id", Id, nullable=False),
    sa.Column("key", sa.String, nullable=False),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("can_read", sa.Boolean, nullable=False),
    sa.Column("can_write", sa.Boolean, nullable=False),
    *_timestamps(),
    sa.Index("index_external_system_configurations_on_external_system_id", "external_system_id"),
)

addresses = sa.Table(
    "addresses",
    metadata,
    _id(),
    *_strings("building", "street", "locality", "county", "string", "post_code", "country"),
    *_timestamps(),
)

# The address fields of a respondent or representative record (`load`), each stored as
# the column after `address_` of the row its `address_id` points to.
ADDRESS_FIELDS = ["address_building", "address_street", "address_locality", "address_county", "address_post_code"]
# The fields of those records that are columns of the person's own row.
RESPONDENT_FIELDS = [
    "name",
    "contact",
    *ADDRESS_FIELDS,
    "address_telephone_number",
    "alt_phone_number",
    "contact_preference",
    "email_address",
    "fax_number",
    "organisation_employ_gb",
    "organisation_more_than_one_site",
    "employment_at_site_number",
    "acas_certificate_number",
    "disability",
    "disability_information",
]
REPRESENTATIVE_FIELDS = [
    "name",
    "organisation_name",
    *ADDRESS_FIELDS,
    "address_telephone_number",
    "mobile_number",
    "representative_type",
    "dx_number",
    "reference",
    "contact_preference",
    "email_address",
]


def _people(name: str, *columns: sa.Column, indexes: tuple[sa.Index, ...]) -> sa.Table:
    return sa.Table(name, metadata, _id(), *columns, *_timestamps(), *indexes)


def _address_key(name: str, constraint: str) -> sa.Column:
    return sa.Column(name, Id, sa.ForeignKey("addresses.id", name=constraint))


respondents = _people(
    "respondents",
    sa.Column("name", sa.String),
    _address_key("address_id", "fk_rails_b2834e6387"),
    *_strings("work_address_telephone_number", "address_telephone_number", "acas_number"),
    _address_key("work_address_id", "fk_rails_d2d3e755fa"),
    *_strings("alt_phone_number", "contact", "dx_number", "contact_preference", "email_address", "fax_number"),
    sa.Column("organisation_employ_gb", sa.Integer),
    sa.Column("organisation_more_than_one_site", sa.Boolean),
    sa.Column("employment_at_site_number", sa.Integer),
    *_strings("disability", "disability_information", "acas_certificate_number", "acas_exemption_code"),
    sa.Column("allow_video_attendance", sa.Boolean),
    *_strings("title", "company_number", "type_of_employer"),
    sa.Column("allow_phone_attendance", sa.Boolean),
    indexes=(
        sa.Index("index_respondents_on_address_id", "address_id"),
        sa.Index("index_respondents_on_work_address_id", "work_address_id"),
    ),
)

representatives = _people(
    "representatives",
    *_strings("name", "organisation_name"),
    _address_key("address_id", "fk_rails_6e31f27150"),
    *_strings("address_telephone_number", "mobile_number", "email_address", "representative_type", "dx_number"),
    *_strings("reference", "contact_preference", "fax_number"),
    sa.Column("allow_video_attendance", sa.Boolean),
    sa.Column("allow_phone_attendance", sa.Boolean),
    indexes=(sa.Index("index_representatives_on_address_id", "address_id"),),
)

# The ET3 answers `load` writes, with the original's column types. The original keeps
# several yes/no answers as text: `load` takes them as booleans and writes "true"/"false".
RESPONSE_FIELDS = {
    "reference": sa.String,
    "case_number": sa.String,
    "claimants_name": sa.String,
    "date_of_receipt": UtcDateTime,
    "agree_with_employment_dates": sa.String,
    "defend_claim": sa.Boolean,
    "defend_claim_facts": sa.String,
    "employment_start": sa.Date,
    "employment_end": sa.Date,
    "disagree_employment": sa.String,
    "continued_employment": sa.String,
    "agree_with_claimants_description_of_job_or_title": sa.String,
    "queried_hours": sa.Numeric(5, 2),
    "queried_pay_before_tax": sa.Numeric(8, 2),
    "queried_pay_before_tax_period": sa.String,
    "claim_information": sa.String,
    "make_employer_contract_claim": sa.Boolean,
    "pdf_template_reference": sa.String,
    "email_template_reference": sa.String,
}
REQUIRED_RESPONSE_FIELDS = {"pdf_template_reference", "email_template_reference"}
_OTHER_RESPONSE_COLUMNS = [
    sa.Column("agree_with_early_conciliation_details", sa.Boolean),
    *_strings(
        "disagree_conciliation_reason",
        "disagree_claimants_job_or_title",
        "agree_with_claimants_hours",
        "agree_with_earnings_details",
    ),
    sa.Column("queried_take_home_pay", sa.Numeric(8, 2)),
    *_strings(
        "queried_take_home_pay_period",
        "agree_with_claimant_notice",
        "disagree_claimant_notice_reason",
        "agree_with_claimant_pension_benefits",
        "disagree_claimant_pension_benefits_reason",
        "email_receipt",
    ),
]

responses = sa.Table(
    "responses",
    metadata,
    _id(),
    sa.Column("respondent_id", Id),
    sa.Column("representative_id", Id),
    *[sa.Column(name, kind, nullable=name not in REQUIRED_RESPONSE_FIELDS) for name, kind in RESPONSE_FIELDS.items()],
    *_OTHER_RESPONSE_COLUMNS,
    sa.Column("office_id", sa.Integer),
    *_timestamps(),
    sa.Index("index_responses_on_office_id", "office_id"),
    sa.Index("index_responses_on_representative_id", "representative_id"),
    sa.Index("index_responses_on_respondent_id", "respondent_id"),
    # The service's: `load` finds responses by reference (not unique: the original's rows may repeat one).
    sa.Index("ix_responses_reference", "reference"),
)

exports = sa.Table(
    "exports",
    metadata,
    _id(),
    sa.Column("resource_id", Id),
    sa.Column("pdf_file_id", Id),
    sa.Column("in_progress", sa.Boolean),
    sa.Column("messages", StringArray),
    sa.Column("resource_type", sa.String),
    sa.Column(
        "external_system_id", Id, sa.ForeignKey("external_systems.id", name="fk_rails_201815efe4"), nullable=False
    ),
    sa.Column("state", sa.String),
    sa.Column("external_data", Json, nullable=False),
    sa.Column("percent_complete", sa.Integer, nullable=False),
    sa.Column("message", sa.String),
    *_timestamps(),
    # The service's own columns. The command that queued the export: null on the Rails side's.
    sa.Column("command_uuid", sa.Uuid(as_uuid=False)),
    # The worker's bookkeeping: how often it was tried, when it is due, who holds it.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("claim_token", sa.Uuid(as_uuid=False)),
    sa.Column("claimed_until", UtcDateTime),
    # Who asked to cancel an export while an attempt held it: it ends `failed` when that attempt ends.
    sa.Column("cancel_requested_by", sa.String),
    sa.Index("index_exports_on_external_system_id", "external_system_id"),
    sa.Index("index_exports_on_resource_id", "resource_id"),
    sa.Index("ix_exports_command_uuid", "command_uuid"),
    # The worker's claims read pending exports in this order: the index holds them alone,
    # so a claim costs the same however many finished exports the table keeps.
    sa.Index(
        "ix_exports_due",
        "resource_type",
        "next_attempt_at",
        "id",
        sqlite_where=sa.text(PENDING_PREDICATE),
        postgresql_where=sa.text(PENDING_PREDICATE),
    ),
    sa.Index("ix_exports_resource", "resource_type", "resource_id", "external_system_id"),
    # At most one export of a resource to a system that this service queued is still on
    # its way: the database, not a check-then-insert, keeps concurrent commands from
    # queueing a second one. Only the service's own rows: the original's may repeat.
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
    _id(),
    sa.Column("export_id", Id, nullable=False),
    sa.Column("state", sa.String),
    sa.Column("uuid", sa.Uuid(as_uuid=False)),
    sa.Column("data", Json),
    *_timestamps(),
    sa.Column("percent_complete", sa.Integer),
    sa.Column("message", sa.String),
    sa.Index("index_export_events_on_export_id", "export_id"),
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("request_body", sa.Text, nullable=False),
    sa.Column("request_headers", Json, nullable=False),
    sa.Column("response_body", sa.Text, nullable=False),
    sa.Column("response_headers", Json),
    sa.Column("response_status", sa.Integer),
    *_timestamps(),
    sa.Column("root_object_type", sa.String),
    sa.Column("root_object_id", Id),
    # The service's own: the command's name and the canonical text of what it asks, which
    # a repeat of its uuid must match. Null on the rows of the Rails side's commands.
    sa.Column("command", sa.String),
    sa.Column("fingerprint", sa.Text),
    sa.Index("index_commands_on_id", "id", unique=True),
    sa.Index("index_commands_on_root_object_type_and_root_object_id", "root_object_type", "root_object_id"),
)

# The service's own: one row that the readiness probe writes, so that "ready" means the
# database takes a durable write now (not merely that it answers a query).
health_checks = sa.Table(
    "export_responses_health_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

# The service's own: how each external system is operated. A paused system's exports are
# queued but not attempted; its circuit breaker (closed, open, half_open) is shared by
# every worker through this row. No row means running and closed.
system_controls = sa.Table(
    "export_responses_system_controls",
    metadata,
    sa.Column("external_system_id", Id, primary_key=True, autoincrement=False),
    sa.Column("paused_at", UtcDateTime),
    sa.Column("paused_by", sa.String),
    sa.Column("circuit_state", sa.String, nullable=False, server_default="closed"),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("circuit_opened_at", UtcDateTime),
    sa.Column("next_probe_at", UtcDateTime),
    sa.Column("probe_interval_seconds", sa.Float),
    sa.Column("last_failure", sa.String),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The throttle the workers share after CCD's 429s (domain/throttling.py).
    sa.Column("throttled_until", UtcDateTime),
    sa.Column("throttle_rate", sa.Float),
    sa.Column("throttle_cut_at", UtcDateTime),
    sa.Column("next_call_at", UtcDateTime),
)
