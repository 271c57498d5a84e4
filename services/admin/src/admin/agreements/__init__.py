"""Sharing agreements: which NGO may refer to which, for which services, when."""
