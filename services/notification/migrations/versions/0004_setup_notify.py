"""NOTIFY ``notification_setup`` when what planning keeps in memory changes in the database

A commit that changes a tenant's recipients, channel settings or rule settings notifies the
tenant's id; one that changes the tenant directory notifies ``directory``. Every instance of
notification LISTENs and forgets its copy at once (notification.rules.listener), whoever made
the change: another instance, ``seed-demo``, an offboarding's erasure.

Revision ID: 0004_setup_notify
Revises: 0003_offb
"""

from alembic import op

revision = "0004_setup_notify"
down_revision = "0003_offb"
branch_labels = None
depends_on = None

# Kept here rather than imported: a migration must not change when the code does.
_CHANNEL = "notification_setup"
_TENANT_TABLES = ("recipients", "channel_configs", "rule_settings")


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION notification_setup_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        f"PERFORM pg_notify('{_CHANNEL}', OLD.tenant_id::text); END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        f"PERFORM pg_notify('{_CHANNEL}', NEW.tenant_id::text); END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION notification_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{_CHANNEL}', 'directory'); RETURN NULL; END $$"
    )
    for table in _TENANT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_setup_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION notification_setup_changed()"
        )
    op.execute(
        "CREATE TRIGGER tenants_directory_changed AFTER INSERT OR UPDATE OR DELETE ON tenants "
        "FOR EACH STATEMENT EXECUTE FUNCTION notification_directory_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tenants_directory_changed ON tenants")
    for table in _TENANT_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_setup_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS notification_directory_changed()")
    op.execute("DROP FUNCTION IF EXISTS notification_setup_changed()")
