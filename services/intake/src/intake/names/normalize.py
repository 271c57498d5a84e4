"""One key for a name however it was spelled: Cyrillic (Russian, Kazakh, Kyrgyz, Uzbek,
Karakalpak), Latin (Uzbek, Kazakh 2021, Karakalpak) and passport (ICAO 9303) transliterations.

The key is a phonetic skeleton, not a transliteration: every spelling is read letter by letter
into a small code alphabet in which the letters that the scripts and systems confuse share one
code, then doubled codes collapse, patronymics are set aside and the parts are sorted, so the
order of family and given names does not matter.

Code alphabet (ASCII, what ``name_key`` returns)::

    a  а ә о ө · a ä á o ö ó     (Uzbek "o" is Russian "а": Sobirov = Сабиров)
    u  у ү ұ ў · u ü ú ū o' w     (Uzbek o' is ў: O'roqov = Ўроқов = Urokov)
    i  и ы і й · i ı í y
    e  е э, ё after a consonant (Фёдор = Федор = Fedor = Fyodor)
    g  г ғ · g gh g' ğ ǵ      k  к қ · k q        h  х ҳ һ · h kh x
    j  ж дж · j zh dzh dj     c  ч · ch ç         w  ш щ · sh ş shch
    q  ц · ts c               n  н ң · n ñ ń ng   the rest as spelled (b d f l m p r s t v z)

ё/ю/я read as i + the vowel (Ёқубов = Якубов = Yoqubov = Yakubov, Юсуф = Yusuf = Iusuf);
hard and soft signs and stray apostrophes vanish; doubled letters count once.

Decisions (see also ``data/README.md``):
- Uzbek "o" and Russian "а" are one sound in these names (Sobirov/Сабиров, Tohir/Тахир,
  Gulnora/Гульнара), so a and o share a code: Sabirov and Sobirov are the same name.
- Sex-different forms are different names: Aliev and Alieva, Aziz and Aziza never share a key
  (a person's family name keeps its sex form in every script). ``family_stem`` gives the
  sex-neutral stem for looser uses (relatives, candidate lists).
- Patronymics (-ович/-овна, -ұлы/-қызы, -uly/-kyzy, o'g'li/qizi, уулу/кызы, оглы) are left out of
  the key when at least two other parts remain, because one document carries them and another
  does not; with fewer parts (Kyrgyz "Алмазбек уулу Бакыт") they are the family name and stay.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "NameParts",
    "family_stem",
    "name_key",
    "name_parts",
    "same_person_name",
    "word_code",
]

# Every apostrophe-like mark people type for Uzbek o'/g' and for the tutuq belgisi.
_APOSTROPHES = "'ʻʼ‘’`´′ʹ"  # they look alike: that is the point

_VOWELS = frozenset("aeiu")

# Cyrillic letters (lower case) → code. ё, ю, я and е are handled in _read_word.
_CYRILLIC: dict[str, str] = {
    "а": "a", "ә": "a", "о": "a", "ө": "a",
    "у": "u", "ү": "u", "ұ": "u", "ў": "u",
    "и": "i", "ы": "i", "і": "i", "й": "i",
    "е": "e", "э": "e",
    "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "ж": "j", "з": "z",
    "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "п": "p", "р": "r",
    "с": "s", "т": "t", "ф": "f", "х": "h", "ҳ": "h", "һ": "h",
    "ц": "q", "ч": "c", "ш": "w", "щ": "w",
    "ъ": "", "ь": "",
}  # fmt: skip

# Latin letters (lower case, after the digraphs below) → code.
_LATIN: dict[str, str] = {
    "a": "a", "ä": "a", "á": "a", "à": "a", "â": "a", "å": "a", "o": "a", "ö": "a", "ó": "a",
    "ò": "a", "ô": "a", "õ": "a",
    "u": "u", "ü": "u", "ú": "u", "ū": "u", "ù": "u", "û": "u", "w": "u",
    "i": "i", "ı": "i", "í": "i", "ì": "i", "î": "i", "ï": "i", "y": "i", "ý": "i",
    "e": "e", "é": "e", "è": "e", "ê": "e", "ë": "e", "ə": "a",
    "b": "b", "v": "v", "g": "g", "ğ": "g", "ǵ": "g", "d": "d", "j": "j", "z": "z",
    "k": "k", "q": "k", "l": "l", "m": "m", "n": "n", "ñ": "n", "ń": "n", "ŋ": "n",
    "p": "p", "r": "r", "s": "s", "t": "t", "f": "f", "h": "h", "x": "h",
    "c": "q", "ç": "c", "ş": "w", "š": "w", "ž": "j", "č": "c",
}  # fmt: skip

# Latin digraphs, longest first; matched before single letters.
_LATIN_DIGRAPHS: tuple[tuple[str, str], ...] = (
    ("shch", "w"), ("dzh", "j"), ("sh", "w"), ("ch", "c"), ("zh", "j"), ("kh", "h"),
    ("gh", "g"), ("ts", "q"), ("ph", "f"),
)  # fmt: skip

# Patronymic markers written as a word of their own after the father's name, in code form:
# o'g'li/ўғли/угли, ogli/оглы, uulu/уулу, uly/ұлы, qizi/кызы/қызы/kyzy, гызы.
_PATRONYMIC_WORDS: dict[str, str] = {
    "ugli": "m", "agli": "m", "aglu": "m", "ulu": "m", "uli": "m",
    "kizi": "f", "gizi": "f",
}  # fmt: skip

# Patronymic endings attached to the father's name, in code form, with the sex they mark:
# -ович/-ovich, -евич/-evich, -овна/-ovna, -евна/-evna, -ична, -ұлы/-uly, -қызы/-kyzy/-qizi.
_PATRONYMIC_ENDINGS: tuple[tuple[str, str], ...] = (
    ("avitc", "m"), ("evitc", "m"), ("avic", "m"), ("evic", "m"),
    ("avna", "f"), ("evna", "f"), ("icna", "f"),
    ("kizi", "f"), ("uli", "m"),
)  # fmt: skip

# Family-name endings stripped by family_stem (code form; -ова/-ov, -ева/-ev, -ин/-ина, -ский).
_FAMILY_ENDINGS: tuple[str, ...] = ("skaia", "ska", "skii", "ski", "ava", "eva", "av", "ev")

_MIN_STEM = 3  # shorter "stems" are whole names (Ali, Ula), not a father's name plus ending


@dataclass(frozen=True, slots=True)
class NameParts:
    """A name read into code form.

    ``names`` are the family and given names (sorted, so order does not matter);
    ``patronymics`` are "<father's name code>.<m|f>" for each patronymic found.
    """

    names: tuple[str, ...]
    patronymics: tuple[str, ...]

    @property
    def key(self) -> str:
        """The matching key: see :func:`name_key`."""
        if len(self.names) >= 2:
            return " ".join(self.names)
        return " ".join(sorted((*self.names, *self.patronymics)))


def _fold(text: str) -> str:
    """NFC, lower case, one apostrophe; other marks on letters we do not know are dropped."""
    text = unicodedata.normalize("NFC", text).lower()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "'")
    # "İ".lower() leaves a combining dot; any combining mark left after NFC is noise.
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _base_letter(ch: str) -> str:
    """A letter with its diacritics removed, for Latin letters missing from the table."""
    return unicodedata.normalize("NFD", ch)[0]


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _read_word(word: str) -> list[str]:
    """Read one folded word into codes (before doubled codes collapse)."""
    out: list[str] = []
    i = 0
    n = len(word)

    def after_consonant() -> bool:
        return bool(out) and out[-1] not in _VOWELS

    while i < n:
        ch = word[i]
        if _is_cyrillic(ch):
            if ch == "ё":
                # Фёдор = Федор (ICAO writes e); word-initially or after a vowel it is
                # Uzbek yo = Russian я (Ёқубов = Якубов, Зиёда = Зияда).
                out += ["e"] if after_consonant() else ["i", "a"]
            elif ch == "ю":
                out += ["i", "u"]
            elif ch == "я":
                out += ["i", "a"]
            elif ch in _CYRILLIC:
                code = _CYRILLIC[ch]
                if code:
                    out.append(code)
            i += 1
            continue
        nxt = word[i + 1] if i + 1 < n else ""
        if ch in "og" and nxt == "'":  # Uzbek o' (ў) and g' (ғ)
            out.append("u" if ch == "o" else "g")
            i += 2
            continue
        if ch == "y" and nxt == "o" and (word[i + 2 : i + 3] != "'"):
            # Latin yo: the ё rule above (but y + o' is й + ў, as in Yo'ldosh).
            out += ["e"] if after_consonant() else ["i", "a"]
            i += 2
            continue
        for digraph, code in _LATIN_DIGRAPHS:
            if word.startswith(digraph, i):
                out.append(code)
                i += len(digraph)
                break
        else:
            code = _LATIN.get(ch) or _LATIN.get(_base_letter(ch), "")
            if code:
                out.append(code)
            i += 1
    return out


def _collapse(s: str) -> str:
    """Doubled codes count once (Абдуллаев = Abdulaev, Kyrgyz long vowels: уулу = ulu)."""
    return "".join(ch for idx, ch in enumerate(s) if idx == 0 or s[idx - 1] != ch)


def _tidy(codes: list[str]) -> str:
    """Collapse doubles and the few sequences that differ only by convention."""
    s = "".join(codes)
    s = s.replace("dj", "j")  # дж written d + zh
    s = s.replace("ng", "n")  # ң written ng; н + г reads the same way everywhere
    s = _collapse(s)
    if s.startswith("ie"):  # Yerlan = Ерлан
        s = s[1:]
    # Vowel + ye = vowel + е (Alekseyev = Алексеев): drop the glide.
    s = "".join(
        ch
        for idx, ch in enumerate(s)
        if not (
            ch == "i"
            and 0 < idx < len(s) - 1
            and s[idx + 1] == "e"
            and s[idx - 1] in _VOWELS
            and s[idx - 1] != "i"
        )
    )
    return _collapse(s)


def word_code(word: str) -> str:
    """The code form of one word ("Тахир", "Takhir" and "Tahir" all give "tahir")."""
    return _tidy(_read_word(_fold(word)))


def _words(full_name: str) -> list[str]:
    folded = _fold(full_name)
    # Hyphenated parts are one name (Ахмед-Али); commas, dots and slashes separate.
    for sep in ",.;/()":
        folded = folded.replace(sep, " ")
    folded = folded.replace("-", "")
    return [w for w in (word_code(raw) for raw in folded.split()) if w]


def _attached_patronymic(code: str) -> str | None:
    for ending, sex in _PATRONYMIC_ENDINGS:
        if code.endswith(ending) and len(code) - len(ending) >= _MIN_STEM:
            return f"{code[: -len(ending)]}.{sex}"
    return None


def name_parts(full_name: str) -> NameParts:
    """Split a full name into code-form names and patronymics (any order, any script)."""
    codes = _words(full_name)
    names: list[str] = []
    patronymics: list[str] = []
    i = 0
    while i < len(codes):
        code = codes[i]
        nxt = codes[i + 1] if i + 1 < len(codes) else ""
        if nxt in _PATRONYMIC_WORDS:  # "Rustam o'g'li", "Алмазбек уулу"
            patronymics.append(f"{code}.{_PATRONYMIC_WORDS[nxt]}")
            i += 2
            continue
        attached = _attached_patronymic(code)
        if attached is not None:
            patronymics.append(attached)
        elif code not in _PATRONYMIC_WORDS:  # a marker with no father's name is noise
            names.append(code)
        i += 1
    return NameParts(names=tuple(sorted(names)), patronymics=tuple(sorted(patronymics)))


def name_key(full_name: str) -> str:
    """A stable ASCII key shared by every spelling of the same full name.

    "Сабиров Тахир", "Sabirov Takhir", "Tahir Sobirov" and "Сабиров Тахир Рустамович" all give
    "sabirav tahir". The parts are sorted (family/given order does not matter) and patronymics
    are left out when two or more other parts remain. Meant as the input of a blind index: equal
    keys mean "probably the same name", to be confirmed by a person. Returns "" for a string
    with no letters. Pure and deterministic: the key of a name never changes unless this
    module's tables do (and then the blind index must be rebuilt).
    """
    return name_parts(full_name).key


def same_person_name(a: str, b: str) -> bool:
    """True when two full names are spellings of the same name.

    The keys must be equal and, when both names carry a patronymic, the patronymics must agree
    too (Тахир Рустамович and Тахир Каримович Сабиров are namesakes, not one person; a name
    without a patronymic agrees with any). A name with no letters matches nothing. This is a
    name match only: whether it is the same person is for the caseworker to confirm.
    """
    parts_a, parts_b = name_parts(a), name_parts(b)
    if not parts_a.key or parts_a.key != parts_b.key:
        return False
    if parts_a.patronymics and parts_b.patronymics:
        return bool(set(parts_a.patronymics) & set(parts_b.patronymics))
    return True


def family_stem(full_name: str) -> str:
    """The sex-neutral stem of the family name, or "" when no part looks like one.

    "Алиев Тимур" and "Aliyeva Dilnoza" both give "ali": for looser uses such as relatives or
    candidate lists, never as proof of the same person. The family name is the first part (in
    the order written) with a family ending (-ov/-ova, -ev/-eva, -sky/-skaya).
    """
    for code in _words(full_name):
        if code in _PATRONYMIC_WORDS or _attached_patronymic(code) is not None:
            continue
        for ending in _FAMILY_ENDINGS:
            if code.endswith(ending) and len(code) - len(ending) >= _MIN_STEM - 1:
                return code[: -len(ending)]
    return ""
