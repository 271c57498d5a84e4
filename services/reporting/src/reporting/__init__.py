"""Tirek reporting: de-identified projections of every event, and the reports built on them."""
