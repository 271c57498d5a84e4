"""Data protection in intake: encryption at rest, erasure, retention, subject-access export.

**Encryption at rest.** Every personal value intake stores is ciphertext under the NGO's own
data key (AES-256-GCM, bound to tenant, table, row and field; :mod:`tirek.crypto`):

- persons: first, family and patronymic names, the Latin name, birth date, phone, current
  location, documents (the whole JSON list);
- free text: case notes, assistance notes, anonymous-contact notes, a consent's guardian name
  and withdrawal reason (family links hold no free text);
- the sender's copy of each share package.

What search and statistics need is derived before encryption and kept beside it: blind
indexes of the name key and document numbers (the NGO's own blind-index key), the birth year,
and the case's age band at registration.

The approach is explicit, not ORM magic: models declare their sealed fields
(:class:`tirek.crypto.SealedField`), and use cases decrypt with :mod:`intake.privacy.reveal`
(``reveal_case``, ``reveal``: the only ways personal data is read, so an access log hooks in
there) and encrypt with ``seal_record`` before the session flushes (a forgotten seal raises
``UnsealedWrite``, a value that does not belong where it is read raises ``DecryptionError``,
answered as a problem). The tenant's keys come from the app's :class:`tirek.crypto.Keyring`.

**Keys and rotation** (:mod:`intake.privacy.keys`, ``python -m intake keys ...``): ``rewrap``
moves every stored key under the current master key; ``rotate --tenant`` re-encrypts one NGO's
rows under a new data key, online and resumable; ``seal-plaintext`` (also run by the service at
start) encrypts rows written before encryption existed.

**Erasure** (:mod:`intake.privacy.erasure`): one person's personal fields go (ciphertext and
blind indexes), the de-identified case stays, and ``person.erased`` tells every holder of a
share package to purge it. **Retention** (:mod:`intake.privacy.retention`): each NGO's policy,
carried out by the same erasure on a schedule driven by the database. **Export**
(:mod:`intake.privacy.export`): everything intake holds about one person, as JSON.
"""
