"""Personal data at rest only as ciphertext: data keys, sealed columns, erasure and retention

Personal columns become text holding ciphertext (``tk1.…``); their values stay as they are, in
plaintext, with ``key_version`` NULL, until the service (at start) or ``python -m intake keys
seal-plaintext`` encrypts them with the NGO's data key: migrations never see the master key.
What statistics and hints need is derived here first, from the plaintext: the case's age band
at registration and the person's birth year.

Revision ID: 0005_enc
Revises: 0004_acclog
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from tirek.crypto.store import create_data_keys_table, drop_data_keys_table
from tirek.db.rls import enable_tenant_rls, grant_statements

revision = "0005_enc"
down_revision = "0004_acclog"
branch_labels = None
depends_on = None

#: Tables with sealed fields: each row says which data-key version encrypted them.
SEALED_TABLES = (
    "persons",
    "cases",
    "assistance_records",
    "consents",
    "anonymous_contacts",
    "share_packages",
)
#: Personal columns that were not text yet, and how their values are written as text.
RETYPED = {
    ("persons", "first_name"): "first_name",
    ("persons", "second_name"): "second_name",
    ("persons", "patronymic"): "patronymic",
    ("persons", "name_latin"): "name_latin",
    ("persons", "phone"): "phone",
    ("persons", "birth_date"): "to_char(birth_date, 'YYYY-MM-DD')",
    ("persons", "documents"): "documents::text",
    ("consents", "guardian_name"): "guardian_name",
}

#: Tables this migration reads or updates across every tenant.
_READ_ACROSS_TENANTS = ("persons", "cases", "share_packages")

# The same bands as tirek.events.intake.AgeBand, from the age at the case's opening.
_AGE = (
    "CASE WHEN p.birth_date IS NOT NULL "
    "THEN date_part('year', age(c.opened_on, p.birth_date))::int ELSE p.estimated_age END"
)
_AGE_BAND = (
    f"CASE WHEN ({_AGE}) IS NULL OR ({_AGE}) < 0 THEN 'unknown' "
    f"WHEN ({_AGE}) < 12 THEN '0-11' WHEN ({_AGE}) < 18 THEN '12-17' "
    f"WHEN ({_AGE}) < 25 THEN '18-24' WHEN ({_AGE}) < 35 THEN '25-34' "
    f"WHEN ({_AGE}) < 50 THEN '35-49' ELSE '50+' END"
)

# Constant SQL, no input in it.
_SET_AGE_BANDS = (
    f"UPDATE cases c SET age_band = {_AGE_BAND} FROM persons p WHERE p.id = c.person_id"  # noqa: S608
)


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m intake migrate`"
        )
    create_data_keys_table(op, app_role)

    # Derived before anything is encrypted. FORCE row-level security applies to the owner too
    # (no tenant is set here: it would see no row), so it is lifted for this transaction only.
    for table in _READ_ACROSS_TENANTS:
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.add_column("persons", sa.Column("birth_year", sa.SmallInteger(), nullable=True))
    op.add_column("persons", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE persons SET birth_year = date_part('year', birth_date)::smallint")
    op.add_column("cases", sa.Column("age_band", sa.String(16), nullable=True))
    op.execute(_SET_AGE_BANDS)
    op.execute("UPDATE cases SET age_band = 'unknown' WHERE age_band IS NULL")
    op.alter_column("cases", "age_band", nullable=False)

    op.alter_column("persons", "documents", server_default=None)
    op.alter_column("persons", "documents", nullable=True)
    for (table, column), using in RETYPED.items():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE text USING {using}')
    for table in SEALED_TABLES:
        op.add_column(table, sa.Column("key_version", sa.Integer(), nullable=True))

    # Every copy of a person's data sent to another NGO, ids only (kept after the package).
    op.create_table(
        "shared_copies",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_tenant", sa.Uuid(), nullable=False),
        sa.Column("fields", sa.ARRAY(sa.String(length=48)), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_shared_copies")),
    )
    op.create_index(op.f("ix_shared_copies_case_id"), "shared_copies", ["case_id"])
    op.create_index(op.f("ix_shared_copies_person_id"), "shared_copies", ["person_id"])
    op.create_index(op.f("ix_shared_copies_tenant_id"), "shared_copies", ["tenant_id"])
    op.execute(
        "INSERT INTO shared_copies (referral_id, case_id, person_id, receiver_tenant, fields, "
        "shared_at, tenant_id) SELECT s.referral_id, s.case_id, c.person_id, s.receiver_tenant, "
        "s.fields, s.created_at, s.tenant_id FROM share_packages s JOIN cases c ON c.id = s.case_id"
    )

    op.create_table(
        "retention_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("erase_after_years", sa.SmallInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_retention_policies")),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("erased_by", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("referral_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("person_id", name=op.f("uq_erasures_person_id")),
    )
    op.create_index(op.f("ix_erasures_tenant_id"), "erasures", ["tenant_id"])
    for table in _READ_ACROSS_TENANTS:
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    for table in ("shared_copies", "retention_policies", "erasures"):
        enable_tenant_rls(op, table)
    for statement in grant_statements("shared_copies", app_role, "SELECT, INSERT, UPDATE"):
        op.execute(statement)
    for statement in grant_statements("retention_policies", app_role, "SELECT, INSERT, UPDATE"):
        op.execute(statement)
    # The record of erasures is append-only for the application.
    for statement in grant_statements("erasures", app_role, "SELECT, INSERT"):
        op.execute(statement)
    # An erasure deletes the person's family links.
    for statement in grant_statements("family_links", app_role, "DELETE"):
        op.execute(statement)


def downgrade() -> None:
    # Only a database whose rows are still in plaintext (key_version NULL) goes back intact.
    for table in ("erasures", "retention_policies", "shared_copies"):
        op.drop_table(table)
    for table in SEALED_TABLES:
        op.drop_column(table, "key_version")
    op.execute("ALTER TABLE persons ALTER COLUMN birth_date TYPE date USING birth_date::date")
    op.execute("ALTER TABLE persons ALTER COLUMN documents TYPE jsonb USING documents::jsonb")
    op.execute("UPDATE persons SET documents = '[]' WHERE documents IS NULL")
    op.alter_column("persons", "documents", nullable=False)
    op.drop_column("cases", "age_band")
    op.drop_column("persons", "erased_at")
    op.drop_column("persons", "birth_year")
    drop_data_keys_table(op)
