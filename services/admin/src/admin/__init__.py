"""Tirek admin: tenants, sharing agreements between tenants, dead letters, users."""
