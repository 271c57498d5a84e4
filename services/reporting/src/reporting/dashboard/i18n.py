"""The dashboard's words in the consortium's six languages (report codes stay as they are)."""

from __future__ import annotations

LANGUAGES = ("ru", "kk", "ky", "uz", "kaa", "en")

_WORDS: dict[str, dict[str, str]] = {
    "title": {
        "en": "Tirek reports", "ru": "Отчёты Тирек", "kk": "Тірек есептері",
        "ky": "Тирек отчёттору", "uz": "Tirek hisobotlari", "kaa": "Tirek esabatları",
    },
    "login": {
        "en": "Sign in", "ru": "Войти", "kk": "Кіру", "ky": "Кирүү", "uz": "Kirish", "kaa": "Kiriw",
    },
    "username": {
        "en": "User name", "ru": "Имя пользователя", "kk": "Пайдаланушы аты",
        "ky": "Колдонуучунун аты", "uz": "Foydalanuvchi nomi", "kaa": "Paydalanıwshı atı",
    },
    "password": {
        "en": "Password", "ru": "Пароль", "kk": "Құпиясөз", "ky": "Сырсөз", "uz": "Parol",
        "kaa": "Parol",
    },
    "login_failed": {
        "en": "Wrong user name or password.", "ru": "Неверное имя или пароль.",
        "kk": "Қате пайдаланушы аты немесе құпиясөз.", "ky": "Ат же сырсөз туура эмес.",
        "uz": "Noto'g'ri nom yoki parol.", "kaa": "Nadurıs at yamasa parol.",
    },
    "logout": {
        "en": "Sign out", "ru": "Выйти", "kk": "Шығу", "ky": "Чыгуу", "uz": "Chiqish",
        "kaa": "Shıǵıw",
    },
    "cases_opened": {
        "en": "Cases opened", "ru": "Открыто дел", "kk": "Ашылған істер", "ky": "Ачылган иштер",
        "uz": "Ochilgan ishlar", "kaa": "Ashılǵan isler",
    },
    "cases_closed": {
        "en": "Cases closed", "ru": "Закрыто дел", "kk": "Жабылған істер", "ky": "Жабылган иштер",
        "uz": "Yopilgan ishlar", "kaa": "Jabılǵan isler",
    },
    "assistance_records": {
        "en": "Services given", "ru": "Оказано услуг", "kk": "Көрсетілген қызметтер",
        "ky": "Көрсөтүлгөн кызматтар", "uz": "Ko'rsatilgan xizmatlar", "kaa": "Kórsetilgen xızmetler",
    },
    "by_ngo": {
        "en": "By NGO", "ru": "По организациям", "kk": "Ұйымдар бойынша", "ky": "Уюмдар боюнча",
        "uz": "Tashkilotlar bo'yicha", "kaa": "Shólkemler boyınsha",
    },
    "funnel": {
        "en": "Referral funnel", "ru": "Воронка перенаправлений", "kk": "Жолдамалар воронкасы",
        "ky": "Жолдомолор воронкасы", "uz": "Yo'llanmalar voronkasi", "kaa": "Jollanbalar voronkası",
    },
    "series": {
        "en": "Services per month", "ru": "Услуги по месяцам", "kk": "Айлар бойынша қызметтер",
        "ky": "Айлар боюнча кызматтар", "uz": "Oylar bo'yicha xizmatlar", "kaa": "Aylar boyınsha xızmetler",
    },
    "indicators": {
        "en": "Donor indicators", "ru": "Индикаторы для доноров", "kk": "Донор индикаторлары",
        "ky": "Донор индикаторлору", "uz": "Donor ko'rsatkichlari", "kaa": "Donor kórsetkishleri",
    },
    "filters": {
        "en": "Filters", "ru": "Фильтры", "kk": "Сүзгілер", "ky": "Чыпкалар", "uz": "Filtrlar",
        "kaa": "Filtrler",
    },
    "country": {
        "en": "Country", "ru": "Страна", "kk": "Ел", "ky": "Өлкө", "uz": "Mamlakat", "kaa": "Mámleket",
    },
    "all": {"en": "All", "ru": "Все", "kk": "Барлығы", "ky": "Баары", "uz": "Barchasi", "kaa": "Barlıǵı"},
    "from": {"en": "From", "ru": "С", "kk": "Бастап", "ky": "Баштап", "uz": "Dan", "kaa": "Baslap"},
    "to": {"en": "To", "ru": "По", "kk": "Дейін", "ky": "Чейин", "uz": "Gacha", "kaa": "Shekem"},
    "project": {
        "en": "Project", "ru": "Проект", "kk": "Жоба", "ky": "Долбоор", "uz": "Loyiha", "kaa": "Joybar",
    },
    "apply": {
        "en": "Apply", "ru": "Применить", "kk": "Қолдану", "ky": "Колдонуу", "uz": "Qo'llash",
        "kaa": "Qollanıw",
    },
    "export": {
        "en": "Export", "ru": "Экспорт", "kk": "Экспорт", "ky": "Экспорт", "uz": "Eksport",
        "kaa": "Eksport",
    },
    "suppressed_note": {
        "en": "Counts from 1 to {n} are shown as <{m} across NGOs.",
        "ru": "Значения от 1 до {n} по всем организациям показаны как <{m}.",
        "kk": "Ұйымдар бойынша 1-ден {n}-ге дейінгі мәндер <{m} болып көрсетіледі.",
        "ky": "Уюмдар боюнча 1ден {n}гө чейинки сандар <{m} катары көрсөтүлөт.",
        "uz": "Tashkilotlar bo'yicha 1 dan {n} gacha sonlar <{m} ko'rinishida.",
        "kaa": "Shólkemler boyınsha 1 den {n} ge shekem sanlar <{m} túrinde.",
    },
    "forbidden": {
        "en": "Your role has no access to reports.", "ru": "У вашей роли нет доступа к отчётам.",
        "kk": "Сіздің рөліңізге есептер қолжетімсіз.", "ky": "Ролуңузга отчёттор жеткиликсиз.",
        "uz": "Rolingiz hisobotlarga kira olmaydi.", "kaa": "Rolińizge esabatlar jabıq.",
    },
}  # fmt: skip


def words(language: str) -> dict[str, str]:
    """Every dashboard word in ``language`` (English where a word is missing)."""
    language = language if language in LANGUAGES else "ru"
    return {key: forms.get(language, forms["en"]) for key, forms in _WORDS.items()}
