"""Persons: the people a case is about, their documents and family links."""
