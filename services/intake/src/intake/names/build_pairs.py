"""Regenerate the labelled name pairs: ``python -m intake.names.build_pairs``.

Writes ``data/name_pairs.csv`` (columns ``a,b,same,kind``) deterministically (fixed seed).
Nothing here comes from real cases. The name forms below are common Central Asian family and
given names written by hand in their Russian and national (Uzbek, Kazakh, Kyrgyz) Cyrillic
spellings; every Latin spelling is produced from those by the public transliteration tables
below (ICAO 9303 with Kazakhstan's additions for its letters, the official Uzbek Latin
alphabet of 1995, the Kazakh Latin alphabet of 2021, and the informal English practice), so
the matcher never sees its own tables in the data. Labels (see data/README.md): a pair is
"same" when both strings write the same name of one person, patronymic optional.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data" / "name_pairs.csv"

# Family names, male form: "Russian|national:nat" (national Cyrillic spelling tagged uz/kk/ky).
SURNAMES = """
Сабиров|Собиров:uz
Каримов|Каримов:uz
Камилов|Комилов:uz
Алиев|Алиев:uz
Валиев|Валиев:uz
Рахимов|Раҳимов:uz
Рахманов|Раҳмонов:uz
Юсупов|Юсупов:uz
Юнусов|Юнусов:uz
Уроков|Ўроқов:uz
Нурмуханов|Нұрмұханов:kk
Ташматов|Тошматов:uz
Халматов|Холматов:uz
Кадыров|Қодиров:uz
Исмаилов|Исмоилов:uz
Турсунов|Турсунов:uz
Абдуллаев|Абдуллаев:uz
Назарбаев|Назарбаев:kk
Жумабаев|Жұмабаев:kk
Асанов|Асанов:ky
Мамытов|Мамытов:ky
Сулейменов|Сүлейменов:kk
Байтурсынов|Байтұрсынов:kk
Жолдасбеков|Жолдасбеков:kk
Акматов|Акматов:ky
Токтогулов|Токтогулов:ky
Эргашев|Эргашев:uz
Усманов|Усмонов:uz
Хасанов|Ҳасанов:uz
Хусанов|Ҳусанов:uz
Мирзаев|Мирзаев:uz
Рустамов|Рустамов:uz
Шарипов|Шарипов:uz
Умаров|Умаров:uz
Омаров|Омаров:kk
Ибрагимов|Иброҳимов:uz
Юлдашев|Йўлдошев:uz
Исаков|Исаков:ky
Ахмедов|Аҳмедов:uz
Ахмадов|Аҳмадов:uz
Кенжебаев|Кенжебаев:kk
Саидов|Саидов:uz
Жапаров|Жапаров:ky
Сатыбалдиев|Сатыбалдиев:ky
Ниязов|Ниёзов:uz
Кожахметов|Қожахметов:kk
Оразбаев|Оразбаев:kk
Туляганов|Тўлаганов:uz
Хайдаров|Ҳайдаров:uz
Мадаминов|Мадаминов:uz
Калиев|Қалиев:kk
Салиев|Салиев:ky
"""

# Given names: "sex Russian|national:nat".
GIVEN = """
m Тахир|Тоҳир:uz
m Бахтияр|Бахтиёр:uz
m Джамшид|Жамшид:uz
m Рустам|Рустам:uz
m Азиз|Азиз:uz
m Нурлан|Нұрлан:kk
m Ерлан|Ерлан:kk
m Бакыт|Бақыт:kk
m Улугбек|Улуғбек:uz
m Шухрат|Шуҳрат:uz
m Алишер|Алишер:uz
m Азамат|Азамат:ky
m Данияр|Дониёр:uz
m Асылбек|Асылбек:ky
m Тимур|Темур:uz
m Фархад|Фарҳод:uz
m Анвар|Анвар:uz
m Санжар|Санжар:uz
m Айбек|Ойбек:uz
m Жасур|Жасур:uz
m Марат|Марат:kk
m Мурат|Мурат:kk
m Карим|Карим:uz
m Исмаил|Исмоил:uz
m Ильяс|Ильёс:uz
m Юсуф|Юсуф:uz
m Ержан|Ержан:kk
m Серик|Серік:kk
m Канат|Қанат:kk
m Максат|Максат:ky
m Дильшод|Дилшод:uz
m Отабек|Отабек:uz
m Надир|Нодир:uz
m Абдулла|Абдулла:uz
m Кайрат|Қайрат:kk
m Эркин|Эркин:ky
f Гульнара|Гулнора:uz
f Надира|Нодира:uz
f Азиза|Азиза:uz
f Дильноза|Дилноза:uz
f Айгуль|Айгүл:kk
f Зарина|Зарина:uz
f Малика|Малика:uz
f Камила|Комила:uz
f Айгерим|Айгерім:kk
f Асель|Әсел:kk
f Динара|Динара:kk
f Зияда|Зиёда:uz
f Шахноза|Шаҳноза:uz
f Мадина|Мадина:kk
f Жанна|Жанна:kk
f Нилуфар|Нилуфар:uz
f Махира|Моҳира:uz
f Карима|Карима:uz
f Феруза|Феруза:uz
f Айжан|Айжан:kk
f Зульфия|Зулфия:uz
f Наргиза|Наргиза:uz
f Сауле|Сәуле:kk
f Гульмира|Гүлмира:kk
f Мээрим|Мээрим:ky
"""

# Different names that look or sound alike (hard negatives), by their Russian form.
CONFUSABLE = """
Каримов Камилов
Умаров Омаров
Ахмедов Ахмадов
Хасанов Хусанов
Рахимов Рахманов
Юсупов Юнусов
Алиев Валиев
Калиев Салиев
Асанов Исаков
Марат Мурат
Азиз Азиза
Карим Карима
Надир Надира
Карим Камила
Ерлан Нурлан
Айбек Айжан
Гульнара Гульмира
Зарина Зияда
Малика Мадина
Динара Надира
Анвар Азамат
Санжар Жасур
"""

_ICAO = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Kazakhstan's passport practice for the letters ICAO's table lacks; ў, і as ICAO.
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
    "ў": "u", "ҳ": "kh",
}  # fmt: skip
_INFORMAL = {
    **_ICAO, "ё": "yo", "й": "y", "ы": "y", "ю": "yu", "я": "ya", "ъ": "", "ь": "",
}  # fmt: skip
_UZ_LATIN = {
    **_ICAO, "ё": "yo", "ж": "j", "й": "y", "х": "x", "ҳ": "h", "ц": "ts", "ъ": "'", "ю": "yu",
    "я": "ya", "ў": "o'", "қ": "q", "ғ": "g'", "ы": "i",
}  # fmt: skip
_KK_LATIN = {
    **_ICAO, "ә": "ä", "ғ": "ğ", "ё": "io", "ж": "j", "й": "i", "қ": "q", "ң": "ñ", "ө": "ö",
    "ұ": "ū", "ү": "ü", "х": "h", "ц": "s", "ч": "ç", "ш": "ş", "щ": "ş", "ы": "y", "і": "i",
}  # fmt: skip
_VOWELS = set("аеёиоуыэюяәөұүіў")


def transliterate(text: str, table: dict[str, str], *, ye: bool = False) -> str:
    """Apply a letter table; ``ye`` writes е as "ye" word-initially and after a vowel."""
    out: list[str] = []
    prev = ""
    for ch in text:
        low = ch.lower()
        if low in table:
            rep = table[low]
            if ye and low == "е" and (not prev or prev in _VOWELS):
                rep = "ye"
            out.append(rep.capitalize() if ch != low and rep else rep)
        else:
            out.append(ch)
        prev = low if ch.strip() else ""
    return "".join(out)


@dataclass(frozen=True)
class Name:
    ru: str
    native: str
    nat: str
    sex: str = ""


def _parse(lines: str, with_sex: bool) -> list[Name]:
    names = []
    for line in lines.strip().splitlines():
        sex = ""
        if with_sex:
            sex, line = line.split(" ", 1)
        ru, rest = line.split("|")
        native, nat = rest.split(":")
        names.append(Name(ru, native, nat, sex))
    return names


@dataclass(frozen=True)
class Person:
    family: Name
    given: Name
    father: Name  # a male given name
    with_patronymic: bool


def _family(name: Name, sex: str, native: bool) -> str:
    base = name.native if native else name.ru
    return base + "а" if sex == "f" else base


def _patronymic(person: Person, system: str) -> str:
    sex = person.given.sex
    father = person.father
    if system in ("ru", "icao_ru", "informal"):
        return father.ru + ("овна" if sex == "f" else "ович")
    nat = person.family.nat
    father_name = father.native if father.nat == nat else father.ru
    if nat == "kk":
        return father_name + ("қызы" if sex == "f" else "ұлы")
    if nat == "ky":
        return father_name + (" кызы" if sex == "f" else " уулу")
    return father_name + (" қизи" if sex == "f" else " ўғли")


SYSTEMS = ("ru", "native", "native_latin", "icao", "icao_ru", "informal")
PATRONYMIC_SYSTEMS = tuple(s for s in SYSTEMS if s != "icao")


def render(person: Person, system: str, rng: random.Random) -> str:
    """One person's name as one document or one caseworker would write it."""
    native = system in ("native", "native_latin", "icao")
    sex = person.given.sex
    family = _family(person.family, sex, native)
    # A document writes a name in its own language's spelling only when the name is of it.
    same_nat = person.given.nat == person.family.nat
    given = person.given.native if native and same_nat else person.given.ru
    parts = [family, given] if rng.random() < 0.7 else [given, family]
    if person.with_patronymic and system != "icao":
        parts.append(_patronymic(person, system))
    text = " ".join(parts)
    if system in ("icao", "icao_ru"):
        latin = transliterate(text, _ICAO)
        return latin.upper() if rng.random() < 0.5 else latin
    if system == "informal":
        table = dict(_INFORMAL)
        if rng.random() < 0.5:
            table["х"] = "h"
        return transliterate(text, table, ye=True)
    if system == "native_latin":
        nat = person.family.nat
        if nat == "kk":
            return transliterate(text, _KK_LATIN)
        if nat == "uz":
            uz = transliterate(text, _UZ_LATIN, ye=True)
            return uz.replace("'", rng.choice(["'", "ʻ", "’", "`"]))
        return transliterate(text, _INFORMAL, ye=True)  # Kyrgyz has no official Latin
    return text


def build(seed: int = 9303) -> list[tuple[str, str, int, str]]:
    rng = random.Random(seed)
    families = _parse(SURNAMES, with_sex=False)
    givens = _parse(GIVEN, with_sex=True)
    by_ru = {n.ru: n for n in families + givens}
    fathers = [g for g in givens if g.sex == "m" and g.ru[-1] not in "ая"]
    confusable = [tuple(by_ru[w] for w in line.split()) for line in CONFUSABLE.strip().splitlines()]
    rows: list[tuple[str, str, int, str]] = []

    def person(family: Name | None = None, given: Name | None = None) -> Person:
        return Person(
            family=family or rng.choice(families),
            given=given or rng.choice(givens),
            father=rng.choice(fathers),
            with_patronymic=rng.random() < 0.3,
        )

    def pair(
        p: Person, q: Person, same: int, kind: str, systems: tuple[str, ...] = SYSTEMS
    ) -> None:
        for _ in range(10):
            sa, sb = rng.sample(systems, 2)
            a, b = render(p, sa, rng), render(q, sb, rng)
            if a != b:
                rows.append((a, b, same, kind))
                return

    for _ in range(450):  # the same person written two ways
        pair(p := person(), p, 1, "same")
    for _ in range(60):  # the issue's own groups, every way
        pair(p := person(by_ru["Уроков"]), p, 1, "same")
    for left, right in confusable:  # look-alike names
        for _ in range(8):
            if left in families:
                p, q = person(family=left), person(family=right)
                q = Person(q.family, p.given, p.father, p.with_patronymic)
            else:
                sex_matters = left.sex != right.sex
                p, q = person(given=left), person(given=right)
                q = Person(p.family, right, p.father, p.with_patronymic and not sex_matters)
            pair(p, q, 0, "look-alike")
    for _ in range(120):  # siblings: one family name, different given names (and sex forms)
        p = person()
        q = person(family=p.family)
        if q.given != p.given:
            pair(p, q, 0, "sibling")
    for _ in range(60):  # namesakes told apart by the patronymic
        p = Person(rng.choice(families), rng.choice(givens), rng.choice(fathers), True)
        other = rng.choice([f for f in fathers if f != p.father])
        # Passports (icao) carry no patronymic here: without it the two cannot be told apart.
        pair(p, Person(p.family, p.given, other, True), 0, "other-father", PATRONYMIC_SYSTEMS)
    return rows


def main() -> None:
    rows = build()
    DATA.parent.mkdir(exist_ok=True)
    with DATA.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["a", "b", "same", "kind"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} pairs to {DATA}")


if __name__ == "__main__":
    main()
