"""Names across alphabets: one key for every spelling of a name (issue 7), as plain functions."""

from __future__ import annotations

import pytest

from intake.names import family_stem, name_key, name_parts, same_person_name, word_code
from intake.names.evaluate import load_pairs, score

ISSUE_GROUPS = [
    ["Сабиров Тахир", "Sabirov Takhir", "Sabirov Tahir"],
    ["Ўроқов", "O'roqov", "Oʻroqov", "Urokov"],
    ["Нурмуханова", "Nurmukhanova", "Nurmuhanova"],
]


@pytest.mark.parametrize("group", ISSUE_GROUPS, ids=["sabirov", "uroqov", "nurmukhanova"])
def test_the_issues_spellings_of_one_name_share_one_key(group: list[str]) -> None:
    keys = {spelling: name_key(spelling) for spelling in group}
    assert len(set(keys.values())) == 1, f"spellings of one name got different keys: {keys}"


def test_the_issues_names_do_not_meet_each_other() -> None:
    keys = [name_key(group[0]) for group in ISSUE_GROUPS]
    assert len(set(keys)) == len(keys)


def test_key_is_stable_ascii() -> None:
    # A blind index is computed over this string: changing it means rebuilding the index.
    assert name_key("Сабиров Тахир") == "sabirav tahir"
    assert name_key("Ўроқов") == "urakav"
    assert name_key("Нурмуханова") == "nurmuhanava"
    assert name_key("Ёқубов Бахтиёр Рустам ўғли").isascii()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Сабиров Тахир", "Тахир Сабиров"),
        ("Sabirov Takhir", "TAKHIR SABIROV"),
        ("Нурмуханова Айгуль", "Aigul Nurmukhanova"),
    ],
)
def test_family_and_given_names_meet_in_either_order(a: str, b: str) -> None:
    assert same_person_name(a, b)


@pytest.mark.parametrize(
    "with_patronymic",
    [
        "Сабиров Тахир Рустамович",
        "Sabirov Takhir Rustamovich",
        "Sobirov Tohir Rustam o'g'li",
        "Собиров Тоҳир Рустам ўғли",
        "Тахир Сабиров Рустамұлы",
        "Sabirov Tahir Rustamuly",
        "Сабиров Тахир Рустам уулу",
        "Sabirov Tahir Rustam ogli",
    ],
)
def test_a_patronymic_in_one_document_does_not_hide_the_name(with_patronymic: str) -> None:
    assert name_key(with_patronymic) == name_key("Sabirov Tahir")


@pytest.mark.parametrize(
    "with_patronymic",
    [
        "Нурмуханова Айгуль Ерлановна",
        "Nurmukhanova Aigul Erlanovna",
        "Нұрмұханова Айгүл Ерланқызы",
        "Nurmukhanova Aigul Erlankyzy",
        "Nurmuhanova Aygul Erlan qizi",
        "Нурмуханова Айгуль Ерлан кызы",
    ],
)
def test_female_patronymics_are_recognised_too(with_patronymic: str) -> None:
    assert name_parts(with_patronymic).patronymics == ("erlan.f",)
    assert name_key(with_patronymic) == name_key("Айгуль Нурмуханова")


def test_kyrgyz_uulu_name_stays_as_the_family_name_when_there_is_no_other() -> None:
    assert same_person_name("Алмазбек уулу Бакыт", "Bakyt Almazbek uulu")
    assert not same_person_name("Алмазбек уулу Бакыт", "Бакыт")


def test_namesakes_with_different_patronymics_are_told_apart() -> None:
    assert not same_person_name("Сабиров Тахир Рустамович", "Sabirov Takhir Karimovich")
    assert same_person_name("Сабиров Тахир Рустамович", "Sobirov Tohir Rustam o'g'li")


@pytest.mark.parametrize(
    "spellings",
    [
        ["Oʻroqov", "O'roqov", "O’roqov", "O‘roqov", "O`roqov", "Oʼroqov"],
        ["G'ofurov", "Gʻofurov", "Ғофуров", "Гафуров", "Gafurov", "Ghafurov"],
        ["Фёдор", "Федор", "Fedor", "Fyodor"],
        ["Ёқубов", "Якубов", "Yoqubov", "Yakubov", "Iakubov"],
        ["Айгуль", "Aigul", "Aygul", "Айгүл", "Aıgül"],
        ["Хасанов", "Khasanov", "Hasanov", "Ҳасанов", "Xasanov"],
        ["Жасур", "Zhasur", "Jasur"],
        ["Джамшид", "Dzhamshid", "Jamshid", "Жамшид", "Djamshid"],
        ["Чингиз", "Chingiz", "Çingiz"],
        ["Шухрат", "Shukhrat", "Shuhrat", "Şuhrat", "Шуҳрат"],
        ["Щербаков", "Shcherbakov"],
        ["Цой", "Tsoy", "Tsoi"],
        ["Юсуф", "Yusuf", "Iusuf"],
        ["Зульфия", "Zulfiya", "Zulfiia", "Зулфия", "Zul'fiya"],
        ["Қанат", "Канат", "Qanat", "Kanat"],
        ["Жаңыл", "Жаныл", "Zhangyl", "Zhanyl", "Janyl"],
        ["Өмірбек", "Омирбек", "Ömirbek", "Omirbek"],
        ["Үсенов", "Усенов", "Üsenov", "Usenov"],
        ["Нұрлан", "Нурлан", "Nūrlan", "Nurlan"],
        ["Һадиша", "Хадиша", "Hadisha"],
        ["Әлібек", "Алибек", "Älibek", "Alibek"],
        ["Абдуллаев", "Abdullaev", "Abdulayev", "Абдулаев"],
        ["Маъруф", "Ma'ruf", "Maruf", "Маруф"],
        ["Ильич", "Il'ich", "Ilich"],
        ["Ерлан", "Yerlan", "Erlan"],
        ["Алексеев", "Alekseev", "Alekseyev"],
        ["Dáwlet", "Дәўлет", "Даулет", "Daulet"],
    ],
)
def test_letters_the_scripts_write_differently_meet(spellings: list[str]) -> None:
    codes = {s: word_code(s) for s in spellings}
    assert len(set(codes.values())) == 1, f"one name, several codes: {codes}"


def test_uzbek_o_and_russian_a_are_one_name() -> None:
    # Decision: Uzbek "o" is written "а" in Russian (Sobirov = Сабиров, Tohir = Тахир).
    assert same_person_name("Sobirov Tohir", "Сабиров Тахир")
    assert same_person_name("Gulnora", "Гульнара")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Aliev", "Aliyeva"),  # decision: sex-different forms are different names
        ("Алиев Азиз", "Алиева Азиза"),
        ("Karimov", "Kamilov"),
        ("Umarov", "Omarov"),
        ("Ахмедов", "Ахмадов"),
        ("Хасанов", "Хусанов"),
        ("Marat", "Murat"),
        ("Нурмуханов", "Нурмуханова"),
        ("Sabirov Tahir", "Sabirov Tahira"),
        ("Сабиров Тахир", "Сабиров"),
    ],
)
def test_look_alike_names_stay_apart(a: str, b: str) -> None:
    assert not same_person_name(a, b), f"{a!r} and {b!r} got the key {name_key(a)!r}"


def test_family_stem_joins_the_sex_forms_of_a_family_name() -> None:
    assert family_stem("Алиев Тимур") == family_stem("Dilnoza Aliyeva") == "ali"
    assert family_stem("Нурмуханова Айгуль") == family_stem("Nurmukhanov Erlan")
    assert family_stem("Айгуль") == ""


def test_nothing_to_read_matches_nothing() -> None:
    assert name_key("") == ""
    assert name_key(" - , . ") == ""
    assert not same_person_name("", "")
    assert not same_person_name("123", "456")


def test_matcher_meets_its_floors_on_the_labelled_pairs() -> None:
    pairs = load_pairs()
    positives = sum(p.same for p in pairs)
    assert positives >= 300 and len(pairs) - positives >= 300, "the labelled set shrank"
    result = score(pairs, same_person_name)
    # Measured 1.000 / 0.951 on 864 pairs (python -m intake.names.evaluate); floors just below.
    assert result.precision >= 0.99, f"precision {result.precision:.3f}: {result.errors[:5]}"
    assert result.recall >= 0.94, f"recall {result.recall:.3f}: {result.errors[:5]}"
