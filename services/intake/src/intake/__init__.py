"""Tirek intake: persons, cases, assistance records, anonymous contacts and consents of one NGO."""
