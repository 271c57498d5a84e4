"""Reporting's tables: de-identified projections, one row per aggregate and generation.

No name, document, contact, address or free text exists here: only ids, codes, dates and
the times events happened. Every projection row carries a ``generation``: live handlers write
to the active generation (and to the one a rebuild is filling), a rebuild replays history into
a fresh generation and swaps it in with one update of ``projection_generations``.

``*_at`` columns named ``state_at`` hold the time of the event that last set a row's mutable
fields: an older event arriving later (another stream, a redelivery) never overwrites newer
state.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: Which generation reports read (``active``) and which a rebuild fills (``building``).
generations = Table(
    "projection_generations",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: a single row
    Column("active", Integer, nullable=False),
    Column("building", Integer, nullable=True),
)

#: The tenant directory (labels, country, region): not tenant-owned, no RLS.
tenants = Table(
    "tenant_labels",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("code", String(8), nullable=False),
    Column("country", String(2), nullable=False),
    Column("region", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("names", JSONB, nullable=False),
    Column("state_at", DateTime(timezone=True), nullable=False),
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("case_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False, index=True),
    # Facts fixed at registration (null until case.registered arrives).
    Column("person_id", Uuid, nullable=True),
    Column("country", String(2), nullable=True),
    Column("opened_on", Date, nullable=True),
    Column("origin_referral_id", Uuid, nullable=True),
    # Mutable facts, guarded by state_at.
    Column("sex", String(32), nullable=True),
    Column("age_band", String(16), nullable=True),
    Column("citizenship", String(2), nullable=True),
    Column("categories", ARRAY(String(48)), nullable=True),
    Column("exploitation_forms", ARRAY(String(48)), nullable=True),
    Column("trm_stage", String(64), nullable=True),
    Column("status", String(32), nullable=True),
    Column("risk_level", String(16), nullable=True),
    Column("state_at", DateTime(timezone=True), nullable=True),
    # Closure, from case.closed.
    Column("closed_on", Date, nullable=True),
    Column("closure_reason", String(32), nullable=True),
)

assistance_facts = Table(
    "assistance_facts",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("assistance_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False, index=True),
    Column("case_id", Uuid, nullable=False),
    Column("person_id", Uuid, nullable=False),
    Column("type", String(48), nullable=False),
    Column("mode", String(32), nullable=False),
    Column("provided_on", Date, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("project_code", String(32), nullable=True),
)

contact_facts = Table(
    "contact_facts",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("contact_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False, index=True),
    Column("received_on", Date, nullable=False),
    Column("mode", String(32), nullable=False),
    Column("topic", String(48), nullable=False),
    Column("country", String(2), nullable=True),
    Column("sex", String(32), nullable=False),
    Column("project_code", String(32), nullable=True),
)

referral_facts = Table(
    "referral_facts",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("referral_id", Uuid, primary_key=True),
    Column("sender_tenant", Uuid, nullable=False, index=True),
    Column("receiver_tenant", Uuid, nullable=False, index=True),
    Column("case_id", Uuid, nullable=False),
    Column("services", ARRAY(String(32)), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("state_at", DateTime(timezone=True), nullable=False),
    # The first time each transition happened.
    Column("submitted_at", DateTime(timezone=True), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("blocked_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("declined_at", DateTime(timezone=True), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("overdue_periods", Integer, nullable=False, server_default="0"),
    Column("decline_reason", String(32), nullable=True),
    # none_as_null: a Python None is SQL NULL, not JSON null. Every referral event but
    # ``referral.completed`` carries None, and ``COALESCE(incoming, stored)`` keeps the stored
    # outcomes only when the incoming value is NULL: with JSON null, any event of the referral
    # projected after its completion (a message, a late or replayed transition) erased them.
    Column("outcomes", JSONB(none_as_null=True), nullable=True),
)

return_facts = Table(
    "return_facts",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("return_id", Uuid, primary_key=True),
    Column("referral_id", Uuid, nullable=False),
    Column("sender_tenant", Uuid, nullable=False, index=True),
    Column("receiver_tenant", Uuid, nullable=False, index=True),
    Column("planned_date", Date, nullable=False),
    Column("origin_country", String(2), nullable=False),
    Column("destination_country", String(2), nullable=False),
    Column("border_crossing", String(100), nullable=True),
    Column("transport", String(16), nullable=True),
    Column("state_at", DateTime(timezone=True), nullable=False),
    Column("planned_at", DateTime(timezone=True), nullable=True),
    Column("arrived_on", Date, nullable=True),
    Column("arrived_at", DateTime(timezone=True), nullable=True),
    Column("overdue_at", DateTime(timezone=True), nullable=True),
    Column("overdue", Boolean, nullable=False, server_default="false"),
)

# Covering indexes of the reports (migration 0003_bfidx): one NGO's cases by opening and
# closing day, assistance records by type and contacts by mode, answered from the index.
Index(
    "ix_case_facts_opened",
    case_facts.c.generation,
    case_facts.c.tenant_id,
    case_facts.c.opened_on,
    postgresql_include=["sex", "age_band", "citizenship", "trm_stage", "person_id", "categories"],
)
Index(
    "ix_case_facts_closed",
    case_facts.c.generation,
    case_facts.c.tenant_id,
    case_facts.c.closed_on,
    postgresql_include=["closure_reason"],
    postgresql_where=case_facts.c.closed_on.is_not(None),
)
# Ordered by project and person within a type (migration 0005_persons_order): a type's
# distinct people per project are counted off the index without a sort.
Index(
    "ix_assistance_facts_type",
    assistance_facts.c.generation,
    assistance_facts.c.type,
    assistance_facts.c.project_code,
    assistance_facts.c.person_id,
    postgresql_include=["tenant_id", "provided_on", "mode", "outcome"],
)
# The assistance report's people per NGO and type, counted in index order (migration
# 0007_assistance_persons).
Index(
    "ix_assistance_facts_persons",
    assistance_facts.c.generation,
    assistance_facts.c.tenant_id,
    assistance_facts.c.type,
    assistance_facts.c.person_id,
    postgresql_include=["provided_on", "project_code"],
)
Index(
    "ix_contact_facts_mode",
    contact_facts.c.generation,
    contact_facts.c.mode,
    postgresql_include=["tenant_id", "topic", "project_code", "received_on"],
)

# Rollups (migration 0004_rollups): kept equal to the facts by triggers on case_facts,
# assistance_facts and contact_facts, in the transaction of every write to them (see the
# migration). Never written by the application itself.

#: Counts by measure (``cases_opened.sex``, ``assistance.type``, ...), NGO, day or month
#: (``grain`` ``day``/``month``, ``day`` the month's first day) or all time (``all``, no day),
#: project (NULL: none) and value. Reports sum ``n``; a count that fell back to 0 stays a row.
report_counts = Table(
    "report_counts",
    metadata,
    Column("generation", Integer, nullable=False),
    Column("measure", String(32), nullable=False),
    Column("grain", String(8), nullable=False),
    Column("tenant_id", Uuid, nullable=False),
    Column("day", Date, nullable=True),
    Column("project", String(32), nullable=True),
    Column("value", String(64), nullable=False),
    Column("n", BigInteger, nullable=False),
    UniqueConstraint(
        "generation",
        "measure",
        "grain",
        "tenant_id",
        "day",
        "project",
        "value",
        name="uq_report_counts",
        postgresql_nulls_not_distinct=True,
    ),
)

#: Opened cases per NGO, sex and person: a person counts in ``persons.sex`` while it is > 0.
case_persons = Table(
    "case_persons",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("tenant_id", Uuid, primary_key=True),
    Column("sex", String(32), primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("cases", Integer, nullable=False),
)

# The funnel's sent referrals, read from the index alone (migration 0004_rollups).
Index(
    "ix_referral_facts_sent",
    referral_facts.c.generation,
    referral_facts.c.sender_tenant,
    postgresql_include=[
        "receiver_tenant",
        "sent_at",
        "accepted_at",
        "declined_at",
        "completed_at",
        "cancelled_at",
        "due_at",
    ],
    postgresql_where=referral_facts.c.sent_at.is_not(None),
)

#: Tables whose rows belong to one NGO (tenant_id) and get FORCE row-level security.
TENANT_TABLES = ("case_facts", "assistance_facts", "contact_facts", "report_counts", "case_persons")
#: Tables whose rows belong to two NGOs (sender and receiver): both see them.
PAIR_TABLES = ("referral_facts", "return_facts")
#: Every projection rebuilt by replay. The rollups come last: a rebuild deletes a
#: generation's facts first (their triggers count the rows out), then what is left of them.
PROJECTIONS = (
    tenants,
    case_facts,
    assistance_facts,
    contact_facts,
    referral_facts,
    return_facts,
    report_counts,
    case_persons,
)
