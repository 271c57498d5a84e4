"""Database kernel: engines, one unit of work per use case, tenant scoping, row-level security.

- :func:`create_engine` — an async SQLAlchemy engine on asyncpg.
- :class:`UnitOfWork` — opens one transaction, sets the tenant for it, commits once.
- :mod:`tirek.db.rls` — migration helpers for FORCE row-level security policies.
- :mod:`tirek.db.provision` — per-service databases with an owner and an application role.
"""

from tirek.db.engine import create_engine, database_unavailable, session_factory
from tirek.db.unit_of_work import UnitOfWork, set_tenant

__all__ = [
    "UnitOfWork",
    "create_engine",
    "database_unavailable",
    "session_factory",
    "set_tenant",
]
