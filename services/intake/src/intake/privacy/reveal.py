"""Reading personal data: the only functions that decrypt a record for a reader.

Every API answer, export and share package that shows a person's data, a note or a guardian's
name opens its records here. The only other caller of :func:`tirek.crypto.open_record` is
re-encryption (:mod:`intake.privacy.keys`), which shows no value to anyone. An access log of
who read which case's personal data, when and why belongs in these functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from intake.cases.models import Case
from tirek.crypto import Keyring, open_record
from tirek.crypto.records import is_opened, key_owner


async def reveal(keyring: Keyring, records: Iterable[object]) -> None:
    """Decrypt ``records`` (of any sealed model) for reading, with their owners' keys."""
    for record in records:
        if is_opened(record):
            continue
        version = record.key_version  # type: ignore[attr-defined]
        keys = await keyring.keys(key_owner(record), version=version)
        open_record(record, keys)


async def reveal_case(keyring: Keyring, case: Case) -> Case:
    """Decrypt a case and its person for reading; returns the case."""
    await reveal(keyring, (case, case.person))
    return case
