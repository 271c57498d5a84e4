"""Names of streams, subjects and durable consumers, optionally under a namespace.

Deployments use no namespace. Test runs use a unique one so that two runs sharing a NATS
server never see each other's messages: stream ``INTAKE`` becomes ``T1A2B3_INTAKE`` and subject
``tirek.intake.case.registered.v1`` becomes ``t1a2b3.tirek.intake.case.registered.v1``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Naming:
    namespace: str = ""

    def stream(self, name: str) -> str:
        return f"{self.namespace.upper()}_{name}" if self.namespace else name

    def subject(self, subject: str) -> str:
        return f"{self.namespace}.{subject}" if self.namespace else subject

    def durable(self, consumer: str) -> str:
        return f"{self.namespace}_{consumer}" if self.namespace else consumer

    def strip(self, subject: str) -> str:
        """The subject without the namespace prefix."""
        prefix = f"{self.namespace}."
        return subject[len(prefix) :] if self.namespace and subject.startswith(prefix) else subject


def inbox_prefix(user: str) -> str:
    """The inbox prefix a NATS user's connections use: replies reach only that user
    (:mod:`tirek.messaging.permissions` allows each user its own)."""
    return f"_INBOX.{user}"
