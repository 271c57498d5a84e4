"""The access log: who read which case's personal data, when, which fields, and why.

Every API answer that discloses a case's personal data records one entry per case, in the
same transaction as the read (:func:`record`): one INSERT however many cases a page holds.
The caller states the purpose in the ``X-Access-Purpose`` header (:class:`AccessPurpose`;
absent means routine case work, an unknown value is refused with 422). The log holds ids,
field names and the purpose, never a value. It is tenant-isolated (FORCE RLS) and
append-only for the application role (INSERT and SELECT only); an NGO's administrators and
case managers read it at ``GET /v1/access-log``.

A new endpoint that discloses personal data (a subject-access export, say) records its read
with one call, inside its unit of work::

    await access_log.record(
        session,
        principal=principal,
        case_ids=[case.id],
        fields=access_log.fields.CASE,
        purpose=purpose,  # the endpoint's `purpose: Purpose` parameter
        operation="person.export",
    )
"""

from intake.access_log import fields
from intake.access_log.purposes import AccessPurpose, Purpose
from intake.access_log.service import record

__all__ = ["AccessPurpose", "Purpose", "fields", "record"]
