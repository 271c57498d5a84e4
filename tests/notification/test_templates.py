"""Every template in every language: the right language, and never a person's data."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from notification.templates.render import (
    LANGUAGES,
    TEMPLATES,
    Renderer,
    context_from_event,
    digest_context,
)

SENDER, RECEIVER = uuid.uuid4(), uuid.uuid4()
NAMES = {
    SENDER: {"ru": "Сана Сезім (Актобе)", "en": "Sana Sezim (Aktobe)"},
    RECEIVER: {"ru": "Мекен (Ош)", "en": "Meken (Osh)"},
}

#: What a case holds about a person: none of it may ever reach a message.
PERSONAL = {
    "first_name": "Гульнара",
    "second_name": "Мамытова",
    "patronymic": "Асановна",
    "name_latin": "Gulnara Mamytova",
    "full_name": "Мамытова Гульнара Асановна",
    "birth_date": "1994-07-13",
    "document_number": "AN4817263",
    "passport": "N09182736",
    "phone": "+996 555 123 456",
    "email": "gulnara.m@example.org",
    "address": "ул. Ленина 15, кв. 8, Ош",
    "notes": "Работодатель отобрал паспорт, угрожает семье",
    "family_member": "Асан Мамытов",
}


def _event_full_of_personal_data() -> dict[str, Any]:
    data: dict[str, Any] = {
        "referral_id": str(uuid.uuid4()),
        "referral_number": "R-KG-OSH-2026-000042",
        "case_id": str(uuid.uuid4()),
        "case_number": "KG-OSH-2026-000042",
        "sender_tenant": str(SENDER),
        "receiver_tenant": str(RECEIVER),
        "services": ["return", "legal_aid", PERSONAL["phone"]],
        "urgency": "urgent",
        "due_at": "2026-03-04T10:00:00+00:00",
        "planned_date": "2026-05-04",
        "reason": PERSONAL["notes"],
        "period": 2,
        "changed": ["assigned_to"],
        "person": dict(PERSONAL),
    }
    data.update(PERSONAL)
    return data


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_no_message_in_any_language_contains_personal_data(template: str, language: str) -> None:
    renderer = Renderer()
    data = _event_full_of_personal_data()
    context = context_from_event(
        event_type="referral.sent", data=data, tenant_names=NAMES, link_base="https://t.example"
    )
    if template == "digest":
        context = digest_context(
            [renderer.render("referral_sent", language, context).subject], "https://t.example"
        )
    rendered = renderer.render(template, language, context)
    text = f"{rendered.subject}\n{rendered.body}".lower()
    for field, value in PERSONAL.items():
        # The whole value and every longer word of it ("Ош" is also the NGO's city).
        for part in {value, *(word for word in value.split() if len(word) >= 5)}:
            assert part.lower() not in text, f"{template}/{language} shows the person's {field}"
    assert rendered.language == language
    assert rendered.subject and rendered.body
    if template not in ("digest",):
        assert "https://t.example/referrals/" in rendered.body


def test_messages_are_translated_and_unknown_languages_fall_back_to_russian() -> None:
    renderer = Renderer()
    context = context_from_event(
        event_type="referral.sent",
        data=_event_full_of_personal_data(),
        tenant_names=NAMES,
        link_base="https://t.example",
    )
    subjects = {
        language: renderer.render("referral_sent", language, context).subject
        for language in LANGUAGES
    }
    assert len(set(subjects.values())) == len(LANGUAGES), "two languages share a wording"
    assert subjects["en"].startswith("New referral R-KG-OSH-2026-000042")
    fallback = renderer.render("referral_sent", "de", context)
    assert fallback.language == "ru" and fallback.subject == subjects["ru"]
    # NGO names in the recipient's language when the tenant has one, else Russian.
    assert "Sana Sezim" in renderer.render("referral_sent", "en", context).body
    assert "Сана Сезім" in renderer.render("referral_sent", "kk", context).body


def test_every_message_of_every_template_is_translated_in_every_catalog() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from notification.templates.render import LOCALE_DIR

    templates = LOCALE_DIR.parent
    used = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(templates), method_map=[("*.j2", "jinja2.ext:babel_extract")]
        )
    }
    assert len(used) > 10, "found hardly any messages: has extraction changed?"
    for language in set(LANGUAGES) - {"en"}:
        with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
            catalog = read_po(po)
        missing = [m for m in used if not (catalog.get(m) and catalog.get(m).string)]
        assert not missing, f"{language} lacks translations of {missing}"
