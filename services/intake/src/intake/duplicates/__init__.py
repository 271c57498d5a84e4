"""Possible duplicates within an NGO, and the caseworker's decision on each pair of cases:
the same person (confirmed) or not (dismissed). Never an automatic merge."""
