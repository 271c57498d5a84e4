"""What notification erases, and exports first, when an NGO leaves (:mod:`tirek.db.erasure`).

Its recipients (staff addresses and preferences), channel settings (sealed secrets), rule
choices, in-app messages, deliveries and their attempts, and its entry in notification's
tenant directory. Messages other NGOs' staff received about it are theirs and stay.
"""

from __future__ import annotations

from tirek.db.erasure import TenantData

TENANT_DATA = TenantData(table_owners={"tenants": ("id",)})
