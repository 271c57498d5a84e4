"""Assistance records: every consultation and service given on a case."""
