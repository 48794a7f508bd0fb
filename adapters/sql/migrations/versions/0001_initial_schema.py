"""Initial schema: the original ET API's tables used by exports, plus commands.command and exports.command_uuid.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.sql.migrations.adoption import adopting

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if adopting():  # the original's own tables stand in for these (see adoption.py)
        return
    op.create_table(
        "commands",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column(
            "request_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column(
            "response_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_table(
        "external_systems",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column(
            "office_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("export_queue", sa.String(), nullable=False),
        sa.Column("export_claims", sa.Boolean(), nullable=False),
        sa.Column("export_responses", sa.Boolean(), nullable=False),
        sa.Column("export_feedback_queue", sa.String(), nullable=False),
        sa.Column("always_save_export", sa.Boolean(), nullable=False),
        sa.Column("response_remote_office", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_systems")),
        sa.UniqueConstraint("reference", name=op.f("uq_external_systems_reference")),
    )
    op.create_table(
        "offices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offices")),
        sa.UniqueConstraint("code", name=op.f("uq_offices_code")),
    )
    op.create_table(
        "representatives",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("organisation_name", sa.String(), nullable=True),
        sa.Column("address_building", sa.String(), nullable=True),
        sa.Column("address_street", sa.String(), nullable=True),
        sa.Column("address_locality", sa.String(), nullable=True),
        sa.Column("address_county", sa.String(), nullable=True),
        sa.Column("address_post_code", sa.String(), nullable=True),
        sa.Column("address_telephone_number", sa.String(), nullable=True),
        sa.Column("mobile_number", sa.String(), nullable=True),
        sa.Column("representative_type", sa.String(), nullable=True),
        sa.Column("dx_number", sa.String(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("contact_preference", sa.String(), nullable=True),
        sa.Column("email_address", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_representatives")),
    )
    op.create_table(
        "respondents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("address_building", sa.String(), nullable=True),
        sa.Column("address_street", sa.String(), nullable=True),
        sa.Column("address_locality", sa.String(), nullable=True),
        sa.Column("address_county", sa.String(), nullable=True),
        sa.Column("address_post_code", sa.String(), nullable=True),
        sa.Column("address_telephone_number", sa.String(), nullable=True),
        sa.Column("alt_phone_number", sa.String(), nullable=True),
        sa.Column("contact_preference", sa.String(), nullable=True),
        sa.Column("email_address", sa.String(), nullable=True),
        sa.Column("fax_number", sa.String(), nullable=True),
        sa.Column("organisation_employ_gb", sa.Integer(), nullable=True),
        sa.Column("organisation_more_than_one_site", sa.Boolean(), nullable=True),
        sa.Column("employment_at_site_number", sa.Integer(), nullable=True),
        sa.Column("acas_certificate_number", sa.String(), nullable=True),
        sa.Column("disability", sa.Boolean(), nullable=True),
        sa.Column("disability_information", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respondents")),
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_system_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("percent_complete", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message", sa.String(), nullable=True),
        sa.Column(
            "external_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("command_uuid", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_system_id"], ["external_systems.id"], name=op.f("fk_exports_external_system_id_external_systems")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index("ix_exports_command_uuid", "exports", ["command_uuid"], unique=False)
    op.create_index(
        "ix_exports_resource", "exports", ["resource_type", "resource_id", "external_system_id"], unique=False
    )
    op.create_index(
        "uq_exports_pending",
        "exports",
        ["resource_type", "resource_id", "external_system_id"],
        unique=True,
        sqlite_where=sa.text("state IN ('queued', 'in_progress', 'erroring')"),
        postgresql_where=sa.text("state IN ('queued', 'in_progress', 'erroring')"),
    )
    op.create_table(
        "external_system_configurations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_system_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_system_id"],
            ["external_systems.id"],
            name=op.f("fk_external_system_configurations_external_system_id_external_systems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_system_configurations")),
        sa.UniqueConstraint(
            "external_system_id", "key", name=op.f("uq_external_system_configurations_external_system_id_key")
        ),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("case_number", sa.String(), nullable=False),
        sa.Column("claimants_name", sa.String(), nullable=False),
        sa.Column("date_of_receipt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agree_with_employment_dates", sa.Boolean(), nullable=True),
        sa.Column("defend_claim", sa.Boolean(), nullable=True),
        sa.Column("defend_claim_facts", sa.Text(), nullable=True),
        sa.Column("employment_start", sa.Date(), nullable=True),
        sa.Column("employment_end", sa.Date(), nullable=True),
        sa.Column("disagree_employment", sa.Text(), nullable=True),
        sa.Column("continued_employment", sa.Boolean(), nullable=True),
        sa.Column("agree_with_claimants_description_of_job_or_title", sa.Boolean(), nullable=True),
        sa.Column("queried_hours", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("queried_pay_before_tax", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("queried_pay_before_tax_period", sa.String(), nullable=True),
        sa.Column("claim_information", sa.Text(), nullable=True),
        sa.Column("make_employer_contract_claim", sa.Boolean(), nullable=True),
        sa.Column("pdf_template_reference", sa.String(), nullable=True),
        sa.Column("email_template_reference", sa.String(), nullable=True),
        sa.Column("respondent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("representative_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("office_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_responses_office_id_offices")),
        sa.ForeignKeyConstraint(
            ["representative_id"], ["representatives.id"], name=op.f("fk_responses_representative_id_representatives")
        ),
        sa.ForeignKeyConstraint(
            ["respondent_id"], ["respondents.id"], name=op.f("fk_responses_respondent_id_respondents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("reference", name=op.f("uq_responses_reference")),
    )
    op.create_table(
        "export_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("export_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("percent_complete", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["export_id"], ["exports.id"], name=op.f("fk_export_events_export_id_exports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_events")),
        sa.UniqueConstraint("uuid", name=op.f("uq_export_events_uuid")),
    )
    op.create_index("ix_export_events_export_id", "export_events", ["export_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_export_events_export_id", table_name="export_events")
    op.drop_table("export_events")
    op.drop_table("responses")
    op.drop_table("external_system_configurations")
    op.drop_index(
        "uq_exports_pending",
        table_name="exports",
        sqlite_where=sa.text("state IN ('queued', 'in_progress', 'erroring')"),
        postgresql_where=sa.text("state IN ('queued', 'in_progress', 'erroring')"),
    )
    op.drop_index("ix_exports_resource", table_name="exports")
    op.drop_index("ix_exports_command_uuid", table_name="exports")
    op.drop_table("exports")
    op.drop_table("respondents")
    op.drop_table("representatives")
    op.drop_table("offices")
    op.drop_table("external_systems")
    op.drop_table("commands")
