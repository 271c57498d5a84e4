"""Pure rules of a case: numbers, ages, which changes are allowed. No I/O."""

from __future__ import annotations

from datetime import date

from tirek.events.intake import AgeBand, CaseStatus

#: Statuses a case can be moved to by an update; closing has its own use case.
OPEN_STATUSES = frozenset({CaseStatus.ACTIVE, CaseStatus.FOLLOW_UP})
CLOSED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.CLOSED_REFERRED})


#: Digits of the sequence in a case number (more once an NGO opens a millionth case a year).
SEQUENCE_DIGITS = 6


def case_number_prefix(country: str, tenant_code: str, year: int) -> str:
    """What comes before the sequence in :func:`case_number`."""
    return f"{country}-{tenant_code}-{year}-"


def case_number(country: str, tenant_code: str, year: int, sequence: int) -> str:
    """``KZ-AKT-2026-000123``: country, NGO code, year opened, per-NGO sequence of that year.

    Registration has the database write it (:mod:`intake.cases.service`), from this prefix and
    these digits; this is the rule that database expression must agree with."""
    return f"{case_number_prefix(country, tenant_code, year)}{sequence:0{SEQUENCE_DIGITS}d}"


def age_on(day: date, *, birth_date: date | None, estimated_age: int | None) -> int | None:
    """Age on ``day`` from the birth date, else the caseworker's estimate, else unknown."""
    if birth_date is not None:
        years = day.year - birth_date.year
        return years - ((day.month, day.day) < (birth_date.month, birth_date.day))
    return estimated_age


def age_band_on(day: date, *, birth_date: date | None, estimated_age: int | None) -> AgeBand:
    return AgeBand.of(age_on(day, birth_date=birth_date, estimated_age=estimated_age))


def is_closed(status: str) -> bool:
    return status in CLOSED_STATUSES
