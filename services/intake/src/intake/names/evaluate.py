"""Precision and recall of the name matcher: ``python -m intake.names.evaluate``.

Reads the labelled pairs in ``data/name_pairs.csv`` (regenerate with
``python -m intake.names.build_pairs``) and prints counts, precision and recall of
:func:`intake.names.same_person_name`, and of plain key equality (what a blind index on
:func:`intake.names.name_key` finds), with the misclassified pairs when ``--errors`` is given.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from intake.names.normalize import name_key, same_person_name

PAIRS = Path(__file__).parent / "data" / "name_pairs.csv"


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    same: bool
    kind: str


@dataclass(frozen=True)
class Score:
    """Confusion counts of a matcher over labelled pairs."""

    true_pos: int
    false_pos: int
    false_neg: int
    true_neg: int
    errors: tuple[LabelledPair, ...]

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_pos + self.false_neg
        return self.true_pos / wanted if wanted else 1.0


def load_pairs(path: Path = PAIRS) -> list[LabelledPair]:
    """The labelled pairs (columns a, b, same, kind)."""
    with path.open(encoding="utf-8", newline="") as src:
        return [
            LabelledPair(row["a"], row["b"], row["same"] == "1", row["kind"])
            for row in csv.DictReader(src)
        ]


def score(pairs: Iterable[LabelledPair], matcher: Callable[[str, str], bool]) -> Score:
    """Count how the matcher labels each pair against the truth."""
    tp = fp = fn = tn = 0
    errors: list[LabelledPair] = []
    for pair in pairs:
        said = matcher(pair.a, pair.b)
        if said and pair.same:
            tp += 1
        elif said:
            fp += 1
            errors.append(pair)
        elif pair.same:
            fn += 1
            errors.append(pair)
        else:
            tn += 1
    return Score(tp, fp, fn, tn, tuple(errors))


def _keys_equal(a: str, b: str) -> bool:
    key = name_key(a)
    return bool(key) and key == name_key(b)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--errors", action="store_true", help="list misclassified pairs")
    args = parser.parse_args(argv)
    pairs = load_pairs(args.pairs)
    positives = sum(p.same for p in pairs)
    print(f"{len(pairs)} pairs: {positives} same name, {len(pairs) - positives} different")
    for label, matcher in (("same_person_name", same_person_name), ("name_key ==", _keys_equal)):
        s = score(pairs, matcher)
        print(
            f"{label:17} precision {s.precision:.3f}  recall {s.recall:.3f}  "
            f"(tp {s.true_pos}, fp {s.false_pos}, fn {s.false_neg}, tn {s.true_neg})"
        )
        if args.errors:
            for e in s.errors:
                verdict = "missed" if e.same else "false match"
                print(
                    f"    {verdict:11} [{e.kind}] {e.a!r} ~ {e.b!r}: {name_key(e.a)!r} / "
                    f"{name_key(e.b)!r}"
                )


if __name__ == "__main__":
    main()
