"""Blind indexes of persons' names and document numbers (search and duplicate suggestions).

Existing persons get empty indexes; `python -m intake reindex` fills them (it needs the master
key, which migrations never see).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("name_indexes", "document_indexes"):
        op.add_column(
            "persons",
            sa.Column(
                column,
                postgresql.ARRAY(sa.String(length=32)),
                nullable=False,
                server_default=sa.text("'{}'"),
            ),
        )
        op.create_index(f"ix_persons_{column}", "persons", [column], postgresql_using="gin")


def downgrade() -> None:
    for column in ("name_indexes", "document_indexes"):
        op.drop_index(f"ix_persons_{column}", table_name="persons")
        op.drop_column("persons", column)
