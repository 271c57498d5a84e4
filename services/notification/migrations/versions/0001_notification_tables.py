"""notification tables, their row-level security, and the outbox/inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from tirek.db.rls import enable_tenant_rls, grant_statements
from tirek.messaging.tables import create_messaging_tables, drop_messaging_tables

#: Every table holding one NGO's rows: FORCE row-level security on tenant_id.
TENANT_TABLES = (
    "channel_configs",
    "deliveries",
    "delivery_attempts",
    "inbox_messages",
    "recipients",
    "rule_settings",
)

#: The rules every tenant starts with: (id, event type, party, role, template, when_changed,
#: description). Data, not code: a later migration adds or changes rows.
RULES = (
    (
        "referral.sent:receiver:caseworker",
        "referral.sent",
        "receiver",
        "caseworker",
        "referral_sent",
        None,
        "A referral arrived: the receiving NGO's caseworkers",
    ),
    (
        "referral.sent:receiver:case_manager",
        "referral.sent",
        "receiver",
        "case_manager",
        "referral_sent",
        None,
        "A referral arrived: the receiving NGO's case managers",
    ),
    (
        "referral.accepted:sender:caseworker",
        "referral.accepted",
        "sender",
        "caseworker",
        "referral_accepted",
        None,
        "The partner accepted: the sending NGO's caseworkers",
    ),
    (
        "referral.accepted:sender:case_manager",
        "referral.accepted",
        "sender",
        "case_manager",
        "referral_accepted",
        None,
        "The partner accepted: the sending NGO's case managers",
    ),
    (
        "referral.accepted:responsible",
        "referral.accepted",
        "responsible",
        None,
        "referral_assigned",
        None,
        "The receiver's named responsible caseworker",
    ),
    (
        "referral.declined:sender:caseworker",
        "referral.declined",
        "sender",
        "caseworker",
        "referral_declined",
        None,
        "The partner declined: the sending NGO's caseworkers",
    ),
    (
        "referral.declined:sender:case_manager",
        "referral.declined",
        "sender",
        "case_manager",
        "referral_declined",
        None,
        "The partner declined: the sending NGO's case managers",
    ),
    (
        "referral.overdue:receiver:case_manager",
        "referral.overdue",
        "receiver",
        "case_manager",
        "referral_overdue",
        None,
        "Unanswered referral: the receiving NGO's case managers",
    ),
    (
        "referral.overdue:coordination",
        "referral.overdue",
        "coordination",
        "coordinator",
        "referral_overdue",
        None,
        "Unanswered referral: the consortium's coordinators",
    ),
    (
        "referral.message_posted:counterpart:caseworker",
        "referral.message_posted",
        "counterpart",
        "caseworker",
        "referral_message",
        None,
        "A message on a referral: the other NGO's caseworkers",
    ),
    (
        "referral.message_posted:counterpart:case_manager",
        "referral.message_posted",
        "counterpart",
        "case_manager",
        "referral_message",
        None,
        "A message on a referral: the other NGO's case managers",
    ),
    (
        "referral.package_purged:receiver:caseworker",
        "referral.package_purged",
        "receiver",
        "caseworker",
        "referral_package_purged",
        None,
        "Consent withdrawn, shared data removed: the receiving NGO's caseworkers",
    ),
    (
        "referral.package_purged:receiver:case_manager",
        "referral.package_purged",
        "receiver",
        "case_manager",
        "referral_package_purged",
        None,
        "Consent withdrawn, shared data removed: the receiving NGO's case managers",
    ),
    (
        "return.planned:receiver:caseworker",
        "return.planned",
        "receiver",
        "caseworker",
        "return_planned",
        None,
        "A return is planned: the receiving NGO's caseworkers",
    ),
    (
        "return.planned:receiver:case_manager",
        "return.planned",
        "receiver",
        "case_manager",
        "return_planned",
        None,
        "A return is planned: the receiving NGO's case managers",
    ),
    (
        "return.overdue:sender:case_manager",
        "return.overdue",
        "sender",
        "case_manager",
        "return_overdue",
        None,
        "Arrival not confirmed: the sending NGO's case managers",
    ),
    (
        "return.overdue:receiver:case_manager",
        "return.overdue",
        "receiver",
        "case_manager",
        "return_overdue",
        None,
        "Arrival not confirmed: the receiving NGO's case managers",
    ),
    (
        "return.overdue:coordination",
        "return.overdue",
        "coordination",
        "coordinator",
        "return_overdue",
        None,
        "Arrival not confirmed: the consortium's coordinators",
    ),
    (
        "case.registered:assignee",
        "case.registered",
        "assignee",
        None,
        "case_assigned",
        None,
        "A new case: its assigned caseworker",
    ),
    (
        "case.updated:assignee",
        "case.updated",
        "assignee",
        None,
        "case_assigned",
        "assigned_to",
        "A case was reassigned: its new caseworker",
    ),
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "channel_configs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "kind", name=op.f("pk_channel_configs")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("recipient_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "tenant_id",
            "event_id",
            "recipient_key",
            "channel",
            name=op.f("uq_deliveries_tenant_id"),
        ),
    )
    op.create_index(
        "ix_deliveries_due", "deliveries", ["tenant_id", "status", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_deliveries_tenant_id"), "deliveries", ["tenant_id"], unique=False)
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_messages")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_inbox_messages_delivery_id")),
    )
    op.create_index(
        op.f("ix_inbox_messages_tenant_id"), "inbox_messages", ["tenant_id"], unique=False
    )
    op.create_index(op.f("ix_inbox_messages_user_id"), "inbox_messages", ["user_id"], unique=False)
    op.create_table(
        "recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("telegram_chat_id", sa.String(length=64), nullable=True),
        sa.Column("preferences", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_recipients_tenant_id")),
    )
    op.create_index(op.f("ix_recipients_tenant_id"), "recipients", ["tenant_id"], unique=False)
    op.create_table(
        "rules",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("when_changed", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
    )
    op.create_index(op.f("ix_rules_event_type"), "rules", ["event_type"], unique=False)
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("names", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_delivery_id"), "delivery_attempts", ["delivery_id"], unique=False
    )
    op.create_index(
        op.f("ix_delivery_attempts_tenant_id"), "delivery_attempts", ["tenant_id"], unique=False
    )
    op.create_table(
        "rule_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["rules.id"], name=op.f("fk_rule_settings_rule_id_rules")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "rule_id", name=op.f("pk_rule_settings")),
    )
    # ### end Alembic commands ###
    rules = sa.table(
        "rules",
        sa.column("id", sa.String),
        sa.column("event_type", sa.String),
        sa.column("party", sa.String),
        sa.column("role", sa.String),
        sa.column("template", sa.String),
        sa.column("when_changed", sa.String),
        sa.column("description", sa.String),
    )
    op.bulk_insert(
        rules,
        [
            dict(
                zip(
                    (
                        "id",
                        "event_type",
                        "party",
                        "role",
                        "template",
                        "when_changed",
                        "description",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in RULES
        ],
    )
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m notification migrate`"
        )
    for table in TENANT_TABLES:
        enable_tenant_rls(op, table)
        privileges = "SELECT, INSERT, UPDATE, DELETE" if table == "recipients" else None
        for statement in (
            grant_statements(table, app_role, privileges)
            if privileges
            else grant_statements(table, app_role)
        ):
            op.execute(statement)
    # The tenant directory (NGO names and kinds) is no one tenant's data: no RLS. The rules
    # are the platform's, read-only for the application.
    for statement in grant_statements("tenants", app_role):
        op.execute(statement)
    for statement in grant_statements("rules", app_role, "SELECT"):
        op.execute(statement)
    create_messaging_tables(op, app_role)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    drop_messaging_tables(op)
    op.drop_table("rule_settings")
    op.drop_index(op.f("ix_delivery_attempts_tenant_id"), table_name="delivery_attempts")
    op.drop_index(op.f("ix_delivery_attempts_delivery_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_table("tenants")
    op.drop_index(op.f("ix_rules_event_type"), table_name="rules")
    op.drop_table("rules")
    op.drop_index(op.f("ix_recipients_tenant_id"), table_name="recipients")
    op.drop_table("recipients")
    op.drop_index(op.f("ix_inbox_messages_user_id"), table_name="inbox_messages")
    op.drop_index(op.f("ix_inbox_messages_tenant_id"), table_name="inbox_messages")
    op.drop_table("inbox_messages")
    op.drop_index(op.f("ix_deliveries_tenant_id"), table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("channel_configs")
    # ### end Alembic commands ###
