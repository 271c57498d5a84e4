"""Localized messages: Jinja2 templates translated with gettext catalogs (Babel ``.po``).

Only a :class:`MessageContext` reaches a template, and it is built from a whitelist of event
fields (:func:`context_from_event`): numbers, NGO names, service codes, dates, reason codes and
a link. Events carry no personal data; the whitelist makes sure none could slip through if
one ever did.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
#: Languages of the consortium; ``en`` is the source language of the catalogs.
LANGUAGES = ("ru", "kk", "ky", "uz", "kaa", "en")
DEFAULT_LANGUAGE = "ru"
#: Template names (``<name>.j2``), one per kind of message.
TEMPLATES = (
    "referral_sent",
    "referral_accepted",
    "referral_assigned",
    "referral_declined",
    "referral_overdue",
    "referral_message",
    "referral_package_purged",
    "return_planned",
    "return_overdue",
    "case_assigned",
    "digest",
)


@dataclass(frozen=True)
class MessageContext:
    """Everything a template may show. Add a field here only if it names no person."""

    event_type: str
    number: str | None = None
    sender_names: Mapping[str, str] = field(default_factory=dict)
    receiver_names: Mapping[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    urgent: bool = False
    due: str | None = None
    planned_date: str | None = None
    reason: str | None = None
    period: int | None = None
    link: str = ""
    #: Digest only: subjects of the messages it gathers.
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    body: str


def _code(value: Any, limit: int = 64) -> str | None:
    """A machine code (reason, service): short, no spaces — anything else is not shown."""
    if not isinstance(value, str) or not value or len(value) > limit:
        return None
    return value if all(c.isalnum() or c in "_-." for c in value) else None


def context_from_event(
    *,
    event_type: str,
    data: Mapping[str, Any],
    tenant_names: Mapping[uuid.UUID, Mapping[str, str]],
    link_base: str,
) -> MessageContext:
    """Pick the whitelisted fields of an event payload (whatever else it holds is dropped)."""

    def names(key: str) -> Mapping[str, str]:
        try:
            return tenant_names.get(uuid.UUID(str(data.get(key))), {})
        except ValueError:
            return {}

    number = data.get("referral_number") or data.get("case_number")
    if data.get("referral_id"):
        link = f"{link_base.rstrip('/')}/referrals/{uuid.UUID(str(data['referral_id']))}"
    elif data.get("case_id"):
        link = f"{link_base.rstrip('/')}/cases/{uuid.UUID(str(data['case_id']))}"
    else:
        link = link_base
    due = data.get("due_at")
    period = data.get("period")
    return MessageContext(
        event_type=event_type,
        number=_code(number),
        sender_names=names("sender_tenant"),
        receiver_names=names("receiver_tenant"),
        services=tuple(s for s in map(_code, data.get("services") or ()) if s),
        urgent=data.get("urgency") == "urgent",
        due=str(due)[:16].replace("T", " ") + " UTC" if due else None,
        planned_date=str(data["planned_date"])[:10] if data.get("planned_date") else None,
        reason=_code(data.get("reason")),
        period=period if isinstance(period, int) else None,
        link=link,
    )


def localized(names: Mapping[str, str], language: str) -> str:
    for candidate in (language, DEFAULT_LANGUAGE, "en"):
        if names.get(candidate):
            return names[candidate]
    return next(iter(names.values()), "—")


def _catalog(language: str) -> Translations | None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return None
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


class Renderer:
    """Renders a template in a language; a missing message falls back to Russian, then English."""

    def __init__(self) -> None:
        russian = _catalog("ru")
        self._environments: dict[str, Environment] = {}
        for language in LANGUAGES:
            translations: NullTranslations = _catalog(language) or NullTranslations()
            if language not in ("ru", "en") and russian is not None:
                translations.add_fallback(russian)
            environment = Environment(
                loader=FileSystemLoader(HERE),
                extensions=["jinja2.ext.i18n"],
                undefined=StrictUndefined,
                # Plain text (email body, Telegram text, a JSON field), never HTML.
                autoescape=False,  # noqa: S701
                keep_trailing_newline=False,
                lstrip_blocks=True,
            )
            environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            self._environments[language] = environment

    def language_for(self, language: str | None) -> str:
        return language if language in self._environments else DEFAULT_LANGUAGE

    def render(self, template: str, language: str | None, context: MessageContext) -> Rendered:
        language = self.language_for(language)
        loaded: Template = self._environments[language].get_template(f"{template}.j2")
        values = {
            "number": context.number or "—",
            "sender": localized(context.sender_names, language),
            "receiver": localized(context.receiver_names, language),
            "services": ", ".join(context.services) or "—",
            "urgent": context.urgent,
            "due": context.due or "—",
            "planned_date": context.planned_date or "—",
            "reason": context.reason or "—",
            "period": context.period or 1,
            "link": context.link,
            "items": list(context.items),
            "count": len(context.items),
        }
        subject = "".join(loaded.blocks["subject"](loaded.new_context(values))).strip()
        body = "".join(loaded.blocks["body"](loaded.new_context(values)))
        # One line per paragraph: the blank lines template tags leave behind are dropped.
        body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
        return Rendered(language, subject, body)


def digest_context(subjects: Sequence[str], link_base: str) -> MessageContext:
    return MessageContext(event_type="digest", items=tuple(subjects), link=link_base)
