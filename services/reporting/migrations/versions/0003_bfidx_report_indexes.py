"""covering indexes for the reports (make bench: summary and indicators over 1,000,000 cases)

One NGO's summary reads its cases by opening day and its closures by closing day; each donor
indicator reads the assistance records of a few types and the contacts of one mode. Covering
indexes let PostgreSQL answer those from the index alone instead of scanning every row of
every NGO.

Revision ID: 0003_bfidx
Revises: 0002_idem
"""

from alembic import op

revision = "0003_bfidx"
down_revision = "0002_idem"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_case_facts_opened",
        "case_facts",
        ["generation", "tenant_id", "opened_on"],
        postgresql_include=[
            "sex",
            "age_band",
            "citizenship",
            "trm_stage",
            "person_id",
            "categories",
        ],
    )
    op.create_index(
        "ix_case_facts_closed",
        "case_facts",
        ["generation", "tenant_id", "closed_on"],
        postgresql_include=["closure_reason"],
        postgresql_where="closed_on IS NOT NULL",
    )
    op.create_index(
        "ix_assistance_facts_type",
        "assistance_facts",
        ["generation", "type"],
        postgresql_include=[
            "tenant_id", "person_id", "project_code", "provided_on", "mode", "outcome",
        ],
    )  # fmt: skip
    op.create_index(
        "ix_contact_facts_mode",
        "contact_facts",
        ["generation", "mode"],
        postgresql_include=["tenant_id", "topic", "project_code", "received_on"],
    )


def downgrade() -> None:
    for name, table in (
        ("ix_contact_facts_mode", "contact_facts"),
        ("ix_assistance_facts_type", "assistance_facts"),
        ("ix_case_facts_closed", "case_facts"),
        ("ix_case_facts_opened", "case_facts"),
    ):
        op.drop_index(name, table_name=table)
