"""Consents: a record of what a person (or guardian) agreed to, for what, until when."""
