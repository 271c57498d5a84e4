"""What intake erases, and exports first, when an NGO leaves (:mod:`tirek.db.erasure`).

Every table with ``tenant_id`` (persons, cases, assistance, consents, contacts, share
packages, counters, and whatever table a later change adds with that column), the rows that
reference them, and the NGO's own entry in intake's tenant directory. Rows of *other* NGOs
that merely name the leaving one (a consent given for a referral to it, a package sealed for
it) are theirs and stay.

The access log is kept: it is the record of who read which case and why, holds no personal
data of the persons (user ids, case ids, field names, purposes), and stays append-only for the
application role, which is never granted DELETE on it.
"""

from __future__ import annotations

from tirek.db.erasure import TenantData

TENANT_DATA = TenantData(table_owners={"tenants": ("id",)}, keep=frozenset({"access_log"}))
