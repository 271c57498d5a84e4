# ruff: noqa: S608 - SQL is assembled from constant fragments of this file; no value is formatted.
"""report rollups: counts by NGO, day/month and dimension, kept by triggers on the facts

The summary, assistance, indicator and time-series reports scanned the fact tables on every
request (3 s for every NGO's summary over 1,000,000 cases). ``report_counts`` holds the same
counts pre-aggregated by (generation, measure, NGO, day or month, project, value); the
triggers below keep it equal to the facts in the same transaction as every write to them —
the projector's upserts and guarded updates, a rebuild's new generation and its deletion of
the old one, a COPY — so it cannot drift. ``case_persons`` counts each person's opened cases
per NGO and sex, so that the all-time "persons by sex" (distinct people) is a maintained
count too.

Triggers are per statement with transition tables: a statement's rows are aggregated into
one sorted upsert (a COPY of a million cases is one aggregate, not a million upserts). A
``BEFORE`` statement trigger first takes a transaction lock per fact table, so two
transactions writing the same table's rollups (a rebuild's replay and a live consumer, or two
instances) queue instead of deadlocking on rollup rows taken in different orders.

Revision ID: 0004_rollups
Revises: 0003_bfidx
"""

from alembic import context, op

from tirek.db.rls import grant_statements

revision = "0004_rollups"
down_revision = "0003_bfidx"
branch_labels = None
depends_on = None

_CURRENT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
_ALL = "current_setting('app.all_tenants', true) = 'on'"
_VISIBLE = f"tenant_id = {_CURRENT} OR {_ALL}"

#: Per fact table: (measure, day column, project column or NULL, value expression, FROM
#: extra). Every measure is counted by day and by month; the row is counted where its day
#: is set.
_MEASURES: dict[str, list[tuple[str, str, str, str, str]]] = {
    "case_facts": [
        ("cases_opened.sex", "opened_on", "NULL", "COALESCE(c.sex, 'unknown')", ""),
        ("cases_opened.age_band", "opened_on", "NULL", "COALESCE(c.age_band, 'unknown')", ""),
        (
            "cases_opened.citizenship",
            "opened_on",
            "NULL",
            "COALESCE(c.citizenship, 'unknown')",
            "",
        ),
        ("cases_opened.trm_stage", "opened_on", "NULL", "COALESCE(c.trm_stage, 'unknown')", ""),
        # A case has several categories: one row per category (as unnest in the scan).
        (
            "cases_opened.category",
            "opened_on",
            "NULL",
            "k.category",
            ", unnest(c.categories) AS k(category)",
        ),
        (
            "cases_closed.reason",
            "closed_on",
            "NULL",
            "COALESCE(c.closure_reason, 'unknown')",
            "",
        ),
    ],
    "assistance_facts": [
        ("assistance.type", "provided_on", "c.project_code", "c.type", ""),
        ("assistance.mode", "provided_on", "c.project_code", "c.mode", ""),
        ("assistance.outcome", "provided_on", "c.project_code", "c.outcome", ""),
    ],
    "contact_facts": [
        ("contacts.mode", "received_on", "c.project_code", "c.mode", ""),
        ("contacts.topic", "received_on", "c.project_code", "c.topic", ""),
    ],
}

_KEY = "generation, measure, grain, tenant_id, day, project, value"


def _counts_sql(table: str, source: str) -> str:
    """Add the counts of ``source`` (rows of ``table`` with a ``sign``: +1 added, -1 removed)
    to ``report_counts``; rows whose changes cancel out (an update that moved nothing counted)
    touch nothing."""
    parts = [
        f"SELECT c.sign, c.generation, c.tenant_id, '{measure}'::varchar AS measure, "
        f"c.{day} AS day, {project}::varchar AS project, {value}::varchar AS value "
        f"FROM changes c{extra} WHERE c.{day} IS NOT NULL"
        for measure, day, project, value, extra in _MEASURES[table]
    ]
    return (
        f"WITH changes AS ({source}), m AS ({' UNION ALL '.join(parts)}) "
        f"INSERT INTO report_counts AS r ({_KEY}, n) "
        "SELECT m.generation, m.measure, g.grain, m.tenant_id, "
        "CASE WHEN g.grain = 'day' THEN m.day "
        "ELSE date_trunc('month', m.day::timestamp)::date END AS d, "
        "m.project, m.value, sum(m.sign) "
        "FROM m CROSS JOIN (VALUES ('day'), ('month')) AS g(grain) "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(m.sign) <> 0 "
        "ORDER BY 1, 2, 3, 4, 5, 6, 7 "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET n = r.n + excluded.n"
    )


def _persons_sql(source: str) -> str:
    """Count opened cases per (NGO, sex, person) in ``case_persons``; a person whose count
    goes from none to some (or back) moves the all-time ``persons.sex`` count by one."""
    return (
        f"WITH changes AS ({source}), "
        "p AS (SELECT c.generation, c.tenant_id, COALESCE(c.sex, 'unknown')::varchar AS sex, "
        "c.person_id, sum(c.sign)::integer AS delta FROM changes c "
        "WHERE c.opened_on IS NOT NULL AND c.person_id IS NOT NULL "
        "GROUP BY 1, 2, 3, 4 HAVING sum(c.sign) <> 0), "
        "up AS (INSERT INTO case_persons AS cp (generation, tenant_id, sex, person_id, cases) "
        "SELECT * FROM p ORDER BY 1, 2, 3, 4 "
        "ON CONFLICT (generation, tenant_id, sex, person_id) "
        "DO UPDATE SET cases = cp.cases + excluded.cases "
        "RETURNING cp.generation, cp.tenant_id, cp.sex, cp.person_id, cp.cases), "
        "t AS (SELECT up.generation, up.tenant_id, up.sex, "
        "sum(CASE WHEN up.cases > 0 AND up.cases - p.delta <= 0 THEN 1 "
        "WHEN up.cases <= 0 AND up.cases - p.delta > 0 THEN -1 ELSE 0 END) AS n "
        "FROM up JOIN p USING (generation, tenant_id, sex, person_id) GROUP BY 1, 2, 3) "
        f"INSERT INTO report_counts AS r ({_KEY}, n) "
        "SELECT t.generation, 'persons.sex', 'all', t.tenant_id, NULL, NULL, t.sex, t.n "
        "FROM t WHERE t.n <> 0 ORDER BY 1, 4, 7 "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET n = r.n + excluded.n"
    )


_SOURCES = {
    "INSERT": "SELECT 1 AS sign, x.* FROM new_rows x",
    "UPDATE": "SELECT 1 AS sign, x.* FROM new_rows x UNION ALL SELECT -1, y.* FROM old_rows y",
    "DELETE": "SELECT -1 AS sign, y.* FROM old_rows y",
}


def _statements(table: str, source: str) -> list[str]:
    statements = [_counts_sql(table, source)]
    if table == "case_facts":
        statements.append(_persons_sql(source))
    return statements


def _function(table: str) -> str:
    branches = []
    for operation, source in _SOURCES.items():
        body = ";\n    ".join(_statements(table, source))
        branches.append(f"TG_OP = '{operation}' THEN\n    {body};")
    return (
        f"CREATE FUNCTION rollup_{table}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"BEGIN\n  IF {branches[0]}\n  ELSIF {branches[1]}\n  ELSIF {branches[2]}\n  END IF;\n"
        "  RETURN NULL;\nEND\n$fn$"
    )


#: Writers of one fact table's rollups queue on this lock (taken before any fact row is
#: locked, so it can never wait in a cycle with the rows).
_LOCK_FUNCTION = (
    "CREATE FUNCTION rollup_lock() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(1919250543, TG_RELID::integer);\n"  # 0x7265706F, "repo"
    "  RETURN NULL;\n"
    "END\n$fn$"
)


def upgrade() -> None:
    app_role = context.config.get_main_option("app_role")
    if not app_role:
        raise RuntimeError(
            "the application role is unknown: run through `python -m reporting migrate`"
        )
    op.execute(
        "CREATE TABLE report_counts ("
        "generation integer NOT NULL, "
        "measure varchar(32) NOT NULL, "
        "grain varchar(8) NOT NULL, "  # day | month | all
        "tenant_id uuid NOT NULL, "
        "day date, "  # the day, the month's first day, or NULL (all time)
        "project varchar(32), "  # NULL: the record names no project
        "value varchar(64) NOT NULL, "
        "n bigint NOT NULL, "
        f"CONSTRAINT uq_report_counts UNIQUE NULLS NOT DISTINCT ({_KEY}))"
    )
    op.execute(
        "CREATE TABLE case_persons ("
        "generation integer NOT NULL, "
        "tenant_id uuid NOT NULL, "
        "sex varchar(32) NOT NULL, "
        "person_id uuid NOT NULL, "
        "cases integer NOT NULL, "
        "CONSTRAINT pk_case_persons PRIMARY KEY (generation, tenant_id, sex, person_id))"
    )
    for table in ("report_counts", "case_persons"):
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        op.execute(
            f'CREATE POLICY tenant_isolation ON "{table}" USING ({_VISIBLE}) WITH CHECK ({_VISIBLE})'
        )
        for statement in grant_statements(table, app_role, "SELECT, INSERT, UPDATE, DELETE"):
            op.execute(statement)
    op.execute(_LOCK_FUNCTION)
    # The backfill reads and writes every NGO's rows, under the forced row-level security.
    op.execute("SELECT set_config('app.all_tenants', 'on', true)")
    for table in _MEASURES:
        op.execute(_function(table))
        op.execute(
            f"CREATE TRIGGER rollup_lock BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION rollup_lock()"
        )
        op.execute(
            f"CREATE TRIGGER rollup_insert AFTER INSERT ON {table} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_{table}()"
        )
        op.execute(
            f"CREATE TRIGGER rollup_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION rollup_{table}()"
        )
        op.execute(
            f"CREATE TRIGGER rollup_delete AFTER DELETE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_{table}()"
        )
        # Backfill from the rows already there (in this transaction, with the triggers).
        for statement in _statements(table, f"SELECT 1 AS sign, x.* FROM {table} x"):
            op.execute(statement)
    # The referral funnel reads the sent referrals from this index alone.
    op.execute(
        "CREATE INDEX ix_referral_facts_sent ON referral_facts (generation, sender_tenant) "
        "INCLUDE (receiver_tenant, sent_at, accepted_at, declined_at, completed_at, "
        "cancelled_at, due_at) WHERE sent_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_referral_facts_sent")
    for table in _MEASURES:
        for trigger in ("rollup_lock", "rollup_insert", "rollup_update", "rollup_delete"):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.execute(f"DROP FUNCTION rollup_{table}()")
    op.execute("DROP FUNCTION rollup_lock()")
    op.execute("DROP TABLE case_persons")
    op.execute("DROP TABLE report_counts")
