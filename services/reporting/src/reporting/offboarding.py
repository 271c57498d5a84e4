"""What reporting does when an NGO leaves the consortium: it keeps the counts, not the name.

Reporting holds no personal data — only ids, codes, dates and the times events happened — and
its figures are what donors were given. Erasing a departed NGO's facts would change a report
already sent (last year's "N persons returned home" would shrink when an NGO leaves), and a
rebuild by replay would not even agree with it, since the streams keep the de-identified
events. So on ``tenant.offboarded`` the projector keeps the facts and replaces the NGO's
label: its code becomes ``EX-<country>`` (all former partners of a country share one row),
its names a neutral "Former partner", its region is dropped
(:data:`reporting.projections.projector.FORMER_PARTNER_NAMES`). Totals, figures by country
and small-cell suppression are unchanged; the NGO is no longer named anywhere.

Before that, while it is being offboarded, the NGO's administrators may download its own
facts like every service's data (:data:`TENANT_DATA`, ``GET /v1/tenant-export``).
"""

from __future__ import annotations

from tirek.db.erasure import TenantData

#: The NGO's rows in reporting: its facts, those of referrals and returns it was party to,
#: and its label (for the export; reporting erases none of them).
TENANT_DATA = TenantData(
    owner_columns=("tenant_id", "sender_tenant", "receiver_tenant"),
    table_owners={"tenant_labels": ("id",)},
    # Counts derived from the facts above (kept by triggers): nothing of the NGO's own.
    keep=frozenset({"report_counts", "case_persons"}),
)
