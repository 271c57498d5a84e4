"""Why personal data is read: the picklist of the ``X-Access-Purpose`` header."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from fastapi import Depends, Header

#: The request header that states the purpose of a read.
HEADER: Final = "X-Access-Purpose"


class AccessPurpose(StrEnum):
    """The purposes a caseworker can state. Absent, a read is routine case work."""

    #: Day-to-day work on the case: consultations, assistance, follow-up (the default).
    CASE_WORK = "case_work"
    #: A case manager's review: supervision, reassignment, the four-eyes approval.
    SUPERVISION = "supervision"
    #: Preparing or answering a cross-border referral, planning a return.
    REFERRAL = "referral"
    #: Criminal or civil proceedings: statements, court, a lawyer's file.
    LEGAL_PROCEEDINGS = "legal_proceedings"
    #: An urgent risk to the person's safety (a threat, a disappearance).
    SAFETY = "safety"
    #: The person's own request to see what the NGO holds about them.
    SUBJECT_ACCESS = "subject_access"
    #: A data-protection review or an incident investigation.
    AUDIT = "audit"


async def _stated_purpose(
    purpose: Annotated[
        AccessPurpose,
        Header(
            alias=HEADER,
            description=(
                "Why you read this person's data; recorded in the access log. "
                "Absent: routine case work."
            ),
        ),
    ] = AccessPurpose.CASE_WORK,
) -> AccessPurpose:
    # An unknown value fails FastAPI's validation: 422 problem details, before any read.
    return purpose


#: The purpose a request states (``X-Access-Purpose``), for endpoints that record a read.
Purpose = Annotated[AccessPurpose, Depends(_stated_purpose)]
