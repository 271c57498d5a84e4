"""The demo consortium: five partner NGOs, a coordinating body and their users.

Used by ``make run`` (the development issuer's user store and the seed) and by tests. Ids are
stable (UUIDv5) so that every run, every service and every test agree on them.
"""

from tirek.demo.consortium import (
    DEMO_PASSWORD,
    TENANTS,
    USERS,
    DemoTenant,
    DemoUser,
    tenant_by_code,
)

__all__ = ["DEMO_PASSWORD", "TENANTS", "USERS", "DemoTenant", "DemoUser", "tenant_by_code"]
