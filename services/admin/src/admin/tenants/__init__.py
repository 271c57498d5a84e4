"""Tenants: the consortium's NGOs, onboarded, updated, suspended and reactivated."""
