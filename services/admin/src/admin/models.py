"""Declarative base of admin's tables. Each domain package declares its own tables on it.

Admin's rows are the platform's, not any one NGO's: tenants, the agreements between them and
the dead-letter audit have no ``tenant_id`` and no row-level security. A tenant administrator
reads only its own tenant, and that rule is enforced in code (``tenants.views``).
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
