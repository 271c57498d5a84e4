"""What referral erases, and exports first, when an NGO leaves (:mod:`tirek.db.erasure`).

A referral belongs to both of its NGOs, so every referral the leaving NGO sent or received
goes with it — its history, messages, share package, return plan and deadlines — and so do
its agreements in either direction, its entry in the partner directory and its counters.
The other NGO keeps what it holds in its own right: in intake, the case it opened when it
accepted a referral (with the fields the person consented to share), or its own case it
referred. (Keeping one side of a joint record would keep the leaving NGO's words and ids in
it; the receiving NGO's lasting record of the person is its own case.)
"""

from __future__ import annotations

from tirek.db.erasure import TenantData

TENANT_DATA = TenantData(
    owner_columns=("tenant_id", "sender_tenant", "receiver_tenant", "from_tenant", "to_tenant"),
    # Deadlines name their referral without a foreign key (the scanner reads them all).
    links={"deadlines.referral_id": "referrals.id"},
)
