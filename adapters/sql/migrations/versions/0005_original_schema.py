"""The original ET API's schema, with this service's extras beside it.

On a database this service built (0001-0004), the shared tables take the original's
shape: an `addresses` table (the people's address columns move there), the original's
types (`integer[]` office codes, `varchar` answers, `timestamp without time zone`),
nullability, defaults, index and foreign key names, and the columns it has that the
service lacked. On the original's database (adopting), only the service's extras are
added, which every other path shares: the worker's columns on `exports`, the command's
name and fingerprint on `commands`, and indexes, of which the one unique rule covers
only the exports this service queued.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.sql.migrations.adoption import adopting

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OWNED_PENDING = "command_uuid IS NOT NULL AND state IN ('queued', 'in_progress', 'erroring')"
_TIMESTAMPS = {
    "offices": ["created_at", "updated_at"],
    "external_systems": ["created_at", "updated_at"],
    "external_system_configurations": ["created_at", "updated_at"],
    "respondents": ["created_at", "updated_at"],
    "representatives": ["created_at", "updated_at"],
    "responses": ["created_at", "updated_at", "date_of_receipt"],
    "exports": ["created_at", "updated_at", "next_attempt_at", "claimed_until"],
    "export_events": ["created_at", "updated_at"],
    "commands": ["created_at", "updated_at"],
}
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only
_ADDRESS = ["building", "street", "locality", "county", "post_code"]


def upgrade() -> None:
    if adopting():
        if _postgresql():
            # Waiting behind the Rails side's transactions would hold its queries behind ours.
            op.execute("SET LOCAL lock_timeout = '10s'")
        _add_service_columns()
    else:
        _reshape_the_service_schema()
    _add_service_indexes()


def _add_service_columns() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("command_uuid", sa.Uuid(as_uuid=False), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("claim_token", sa.Uuid(as_uuid=False), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("commands") as batch:
        batch.add_column(sa.Column("command", sa.String(), nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.Text(), nullable=True))


def _add_service_indexes() -> None:
    op.create_index("ix_exports_command_uuid", "exports", ["command_uuid"])
    op.create_index("ix_exports_resource", "exports", ["resource_type", "resource_id", "external_system_id"])
    _owned_pending_index("ix_exports_due", ["resource_type", "next_attempt_at", "id"], unique=False)
    _owned_pending_index("uq_exports_pending", ["resource_type", "resource_id", "external_system_id"], unique=True)
    op.create_index("ix_responses_reference", "responses", ["reference"])


def _owned_pending_index(name: str, columns: list[str], unique: bool) -> None:
    where = sa.text(OWNED_PENDING)
    op.create_index(name, "exports", columns, unique=unique, sqlite_where=where, postgresql_where=where)


# --- a database this service built: its shared tables take the original's shape ---


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _default(postgresql_text: str, sqlite_text: str) -> sa.TextClause:
    return sa.text(postgresql_text if _postgresql() else sqlite_text)


def _reshape_the_service_schema() -> None:
    # The service's exports indexes are built again by `_add_service_indexes`, over its rows only.
    for index in ("ix_exports_command_uuid", "ix_exports_resource", "uq_exports_pending", "ix_exports_due"):
        op.drop_index(index, table_name="exports")
    _offices()
    _external_systems()
    _configurations()
    _people()
    _responses()
    _exports()
    _export_events()
    _commands()
    if _postgresql():
        for table, columns in _TIMESTAMPS.items():
            with op.batch_alter_table(table) as batch:
                for column in columns:
                    # The original declares export_events' as timestamp(6): the same type, printed otherwise.
                    kind = postgresql.TIMESTAMP(precision=6) if table == "export_events" else sa.DateTime()
                    batch.alter_column(column, type_=kind, postgresql_using=f"{column} AT TIME ZONE 'UTC'")


def _offices() -> None:
    with op.batch_alter_table("offices") as batch:
        batch.drop_constraint("uq_offices_code", type_="unique")
        batch.alter_column("code", nullable=True)
        batch.alter_column("name", nullable=True)
        batch.add_column(sa.Column("is_default", sa.Boolean(), nullable=True))
        for name in ("address", "telephone", "email"):
            batch.add_column(sa.Column(name, sa.String(), nullable=True))


def _external_systems() -> None:
    codes = postgresql.ARRAY(sa.Integer()) if _postgresql() else sa.JSON()
    with op.batch_alter_table("external_systems") as batch:
        batch.drop_constraint("uq_external_systems_reference", type_="unique")
        # jsonb's text of [24, 41] is "[24, 41]": with braces it is an integer[] literal.
        batch.alter_column(
            "office_codes",
            type_=codes,
            nullable=True,
            server_default=_default("'{}'::integer[]", "'[]'"),
            postgresql_using="translate(office_codes::text, '[]', '{}')::integer[]",
        )
        batch.alter_column("enabled", nullable=True, server_default=sa.text("true"))
        batch.alter_column("export_queue", nullable=True)
        batch.alter_column("export_claims", nullable=True, server_default=sa.text("false"))
        batch.alter_column("export_responses", server_default=sa.text("false"))
        batch.alter_column(
            "export_feedback_queue", server_default=_default("'default'::character varying", "'default'")
        )
        batch.alter_column("always_save_export", nullable=True, server_default=sa.text("false"))
        batch.alter_column("response_remote_office", server_default=sa.text("false"))
    op.create_index("index_external_systems_on_reference", "external_systems", ["reference"], unique=True)


def _configurations() -> None:
    with op.batch_alter_table("external_system_configurations") as batch:
        batch.drop_constraint("uq_external_system_configurations_external_system_id_key", type_="unique")
        # On PostgreSQL, SQLAlchemy cut the name 0001 gave to fit 63 characters.
        name = "ex_7292" if _postgresql() else "external_systems"
        batch.drop_constraint(f"fk_external_system_configurations_external_system_id_{name}", type_="foreignkey")
        batch.alter_column("can_read", server_default=sa.text("true"))
        batch.alter_column("can_write", server_default=sa.text("true"))
    op.create_index(
        "index_external_system_configurations_on_external_system_id",
        "external_system_configurations",
        ["external_system_id"],
    )


def _people() -> None:
    op.create_table(
        "addresses",
        sa.Column("id", _ID, primary_key=True),
        *[
            sa.Column(name, sa.String())
            for name in ("building", "street", "locality", "county", "string", "post_code", "country")
        ],
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="addresses_pkey"),
    )
    with op.batch_alter_table("respondents") as batch:
        batch.alter_column("name", nullable=True)
        batch.alter_column(
            "disability",
            type_=sa.String(),
            postgresql_using="CASE WHEN disability THEN 'true' WHEN NOT disability THEN 'false' END",
        )
        for name in (
            "work_address_telephone_number",
            "acas_number",
            "dx_number",
            "acas_exemption_code",
            "title",
            "company_number",
            "type_of_employer",
        ):
            batch.add_column(sa.Column(name, sa.String(), nullable=True))
        for name in ("allow_video_attendance", "allow_phone_attendance"):
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("address_id", _ID, nullable=True))
        batch.add_column(sa.Column("work_address_id", _ID, nullable=True))
    _booleans_as_text("respondents", ["disability"])
    with op.batch_alter_table("representatives") as batch:
        batch.alter_column("name", nullable=True)
        batch.add_column(sa.Column("fax_number", sa.String(), nullable=True))
        for name in ("allow_video_attendance", "allow_phone_attendance"):
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("address_id", _ID, nullable=True))
    # Each person's address becomes a row of its own: respondents' keep their ids, and
    # representatives' follow them, so that every row finds its address without a lookup.
    source = ", ".join(f"address_{name}" for name in _ADDRESS)
    target = ", ".join(_ADDRESS)
    offset = "(SELECT coalesce(max(id), 0) FROM respondents)"
    op.execute(
        f"INSERT INTO addresses (id, {target}, created_at, updated_at) "
        f"SELECT id, {source}, created_at, updated_at FROM respondents"
    )
    op.execute("UPDATE respondents SET address_id = id")
    op.execute(
        f"INSERT INTO addresses (id, {target}, created_at, updated_at) "
        f"SELECT {offset} + id, {source}, created_at, updated_at FROM representatives"
    )
    op.execute(f"UPDATE representatives SET address_id = {offset} + id")
    if _postgresql():
        op.execute(
            "SELECT setval(pg_get_serial_sequence('addresses', 'id'), coalesce(max(id), 0) + 1, false) FROM addresses"
        )
    for table, keys in (
        ("respondents", {"address_id": "fk_rails_b2834e6387", "work_address_id": "fk_rails_d2d3e755fa"}),
        ("representatives", {"address_id": "fk_rails_6e31f27150"}),
    ):
        with op.batch_alter_table(table) as batch:
            for name in _ADDRESS:
                batch.drop_column(f"address_{name}")
            for column, constraint in keys.items():
                batch.create_foreign_key(constraint, "addresses", [column], ["id"])
        for column in keys:
            op.create_index(f"index_{table}_on_{column}", table, [column])


_RESPONSE_TEXT = [
    "agree_with_employment_dates",
    "continued_employment",
    "agree_with_claimants_description_of_job_or_title",
]
_NEW_RESPONSE_COLUMNS = [
    ("agree_with_early_conciliation_details", sa.Boolean()),
    ("disagree_conciliation_reason", sa.String()),
    ("disagree_claimants_job_or_title", sa.String()),
    ("agree_with_claimants_hours", sa.String()),
    ("agree_with_earnings_details", sa.String()),
    ("queried_take_home_pay", sa.Numeric(8, 2)),
    ("queried_take_home_pay_period", sa.String()),
    ("agree_with_claimant_notice", sa.String()),
    ("disagree_claimant_notice_reason", sa.String()),
    ("agree_with_claimant_pension_benefits", sa.String()),
    ("disagree_claimant_pension_benefits_reason", sa.String()),
    ("email_receipt", sa.String()),
]


def _responses() -> None:
    # The original requires the templates; the service's rows without one get the ET3's first.
    for column in ("pdf_template_reference", "email_template_reference"):
        op.execute(f"UPDATE responses SET {column} = 'et3-v1-en' WHERE {column} IS NULL")
    with op.batch_alter_table("responses") as batch:
        for constraint in (
            "fk_responses_office_id_offices",
            "fk_responses_representative_id_representatives",
            "fk_responses_respondent_id_respondents",
        ):
            batch.drop_constraint(constraint, type_="foreignkey")
        batch.drop_constraint("uq_responses_reference", type_="unique")
        for column in ("reference", "case_number", "claimants_name", "respondent_id"):
            batch.alter_column(column, nullable=True)
        for column in ("pdf_template_reference", "email_template_reference"):
            batch.alter_column(column, nullable=False)
        for column in _RESPONSE_TEXT:
            batch.alter_column(
                column,
                type_=sa.String(),
                postgresql_using=f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END",
            )
        for column in ("defend_claim_facts", "disagree_employment", "claim_information"):
            batch.alter_column(column, type_=sa.String())
        batch.alter_column("queried_hours", type_=sa.Numeric(5, 2))
        batch.alter_column("queried_pay_before_tax", type_=sa.Numeric(8, 2))
        batch.alter_column("office_id", type_=sa.Integer())
        for name, kind in _NEW_RESPONSE_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    _booleans_as_text("responses", _RESPONSE_TEXT)
    for column in ("office_id", "representative_id", "respondent_id"):
        op.create_index(f"index_responses_on_{column}", "responses", [column])


def _booleans_as_text(table: str, columns: list[str]) -> None:
    """On SQLite, the 1 and 0 a boolean column held as the text Rails writes (PostgreSQL's USING did it)."""
    if _postgresql():
        return
    for column in columns:
        op.execute(
            f"UPDATE {table} SET {column} = CASE WHEN {column} IN (1, '1') THEN 'true' "
            f"WHEN {column} IN (0, '0') THEN 'false' ELSE {column} END"
        )


def _exports() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_constraint("fk_exports_external_system_id_external_systems", type_="foreignkey")
        batch.alter_column("resource_type", nullable=True)
        batch.alter_column("resource_id", nullable=True)
        batch.alter_column("state", nullable=True, server_default=_default("'created'::character varying", "'created'"))
        batch.alter_column("external_data", server_default=_default("'{}'::jsonb", "'{}'"))
        batch.add_column(sa.Column("pdf_file_id", _ID, nullable=True))
        batch.add_column(sa.Column("in_progress", sa.Boolean(), nullable=True))
        messages = postgresql.ARRAY(sa.String()) if _postgresql() else sa.JSON()
        batch.add_column(
            sa.Column("messages", messages, nullable=True, server_default=_default("'{}'::character varying[]", "'[]'"))
        )
        batch.create_foreign_key("fk_rails_201815efe4", "external_systems", ["external_system_id"], ["id"])
    op.create_index("index_exports_on_external_system_id", "exports", ["external_system_id"])
    op.create_index("index_exports_on_resource_id", "exports", ["resource_id"])


def _export_events() -> None:
    op.drop_index("ix_export_events_export_id", table_name="export_events")
    with op.batch_alter_table("export_events") as batch:
        batch.drop_constraint("fk_export_events_export_id_exports", type_="foreignkey")
        batch.drop_constraint("uq_export_events_uuid", type_="unique")
        for column in ("uuid", "state", "data"):
            batch.alter_column(column, nullable=True)
    op.create_index("index_export_events_on_export_id", "export_events", ["export_id"])


def _commands() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.alter_column("command", nullable=True)
        batch.add_column(sa.Column("fingerprint", sa.Text(), nullable=True))
        batch.alter_column("response_headers", nullable=True)
        batch.alter_column("response_status", nullable=True)
        if _postgresql():
            batch.alter_column("id", server_default=sa.text("gen_random_uuid()"))
        batch.add_column(sa.Column("root_object_type", sa.String(), nullable=True))
        batch.add_column(sa.Column("root_object_id", _ID, nullable=True))
    # The service logged its command's fingerprint as the request body until now.
    op.execute("UPDATE commands SET fingerprint = request_body")
    op.create_index("index_commands_on_id", "commands", ["id"], unique=True)
    op.create_index(
        "index_commands_on_root_object_type_and_root_object_id", "commands", ["root_object_type", "root_object_id"]
    )


def downgrade() -> None:
    raise NotImplementedError("0005 cannot be undone: restore the backup taken before `migrate`")
