"""Intake's copy of the tenant directory (from ``tenant.*`` events): codes for case numbers."""
