"""Names across alphabets: one key for every spelling of a person's name (see normalize)."""

from intake.names.normalize import (
    NameParts,
    family_stem,
    name_key,
    name_parts,
    same_person_name,
    word_code,
)

__all__ = ["NameParts", "family_stem", "name_key", "name_parts", "same_person_name", "word_code"]
