"""Small-cell suppression as a pure function: no published cell is 1–4, published cells are
true, and no hidden cell can be computed from the published cells and totals.

The disclosure check here is independent of the module's (which reasons on a graph): it
solves the table's linear equations exactly, with fractions, and asks of every hidden cell
whether its unit vector lies in the row space of the equations over the hidden unknowns.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.suppression import TOTAL, SuppressedTable, suppress, suppress_value

counts = st.integers(1, 5).flatmap(
    lambda n_rows: st.integers(1, 5).flatmap(
        lambda n_cols: st.lists(
            st.lists(
                st.one_of(st.integers(0, 6), st.integers(0, 40)), min_size=n_cols, max_size=n_cols
            ),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
)
thresholds = st.integers(2, 11)
totals = st.sampled_from([(True, True), (True, False), (False, True), (False, False)])


def _grid(
    table: list[list[int]], row_totals: bool, column_totals: bool
) -> dict[tuple[int, int], int]:
    grid = {(r, c): v for r, row in enumerate(table) for c, v in enumerate(row)}
    if row_totals:
        grid |= {(r, TOTAL): sum(row) for r, row in enumerate(table)}
    if column_totals:
        grid |= {(TOTAL, c): sum(row[c] for row in table) for c in range(len(table[0]))}
    if row_totals and column_totals:
        grid[(TOTAL, TOTAL)] = sum(map(sum, table))
    return grid


def _published(result: SuppressedTable) -> dict[tuple[int, int], int | str]:
    shown: dict[tuple[int, int], int | str] = {
        (r, c): v for r, row in enumerate(result.cells) for c, v in enumerate(row)
    }
    if result.row_totals is not None:
        shown |= {(r, TOTAL): v for r, v in enumerate(result.row_totals)}
    if result.column_totals is not None:
        shown |= {(TOTAL, c): v for c, v in enumerate(result.column_totals)}
    if result.total is not None:
        shown[(TOTAL, TOTAL)] = result.total
    return shown


def _rank(rows: list[list[Fraction]]) -> int:
    rows = [r[:] for r in rows]
    rank, width = 0, len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank


def _derivable(
    grid: dict[tuple[int, int], int], hidden: set[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Hidden positions whose value the published cells and totals determine exactly."""
    unknowns = sorted(hidden)
    index = {pos: i for i, pos in enumerate(unknowns)}
    lines: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    rows = {r for r, _ in grid}
    cols = {c for _, c in grid}
    for r in rows:
        if (r, TOTAL) in grid:
            lines.append(([(r, c) for c in cols if c != TOTAL and (r, c) in grid], (r, TOTAL)))
    for c in cols:
        if (TOTAL, c) in grid:
            lines.append(([(r, c) for r in rows if r != TOTAL and (r, c) in grid], (TOTAL, c)))
    equations = []
    for parts, total in lines:
        equation = [Fraction(0)] * len(unknowns)
        for pos in parts:
            if pos in index:
                equation[index[pos]] += 1
        if total in index:
            equation[index[total]] -= 1
        if any(equation):
            equations.append(equation)
    if not equations:
        return set()
    base = _rank(equations)
    derivable = set()
    for pos, i in index.items():
        unit = [Fraction(int(j == i)) for j in range(len(unknowns))]
        if _rank([*equations, unit]) == base:
            derivable.add(pos)
    return derivable


@settings(max_examples=300, deadline=None)
@given(counts, thresholds, totals)
def test_no_published_count_is_small_and_every_published_count_is_true(
    table: list[list[int]], threshold: int, which: tuple[bool, bool]
) -> None:
    result = suppress(table, threshold, row_totals=which[0], column_totals=which[1])
    grid = _grid(table, *which)
    for pos, shown in _published(result).items():
        if shown == f"<{threshold}":
            assert pos in result.hidden
        else:
            assert shown == grid[pos], f"cell {pos} published a wrong count"
            assert not 0 < shown < threshold, f"cell {pos} published a small count {shown}"
    for pos in grid:
        if 0 < grid[pos] < threshold:
            assert pos in result.hidden, f"small count at {pos} was not hidden"


@settings(max_examples=300, deadline=None)
@given(counts, thresholds, totals)
def test_no_hidden_cell_can_be_derived_from_the_totals(
    table: list[list[int]], threshold: int, which: tuple[bool, bool]
) -> None:
    result = suppress(table, threshold, row_totals=which[0], column_totals=which[1])
    grid = _grid(table, *which)
    assert not _derivable(grid, set(result.hidden)), (
        f"hidden cells {sorted(_derivable(grid, set(result.hidden)))} follow from the totals"
    )


def test_a_single_small_cell_beside_its_total_takes_a_partner_with_it() -> None:
    result = suppress([[3, 10], [10, 10]])
    assert result.cells[0][0] == "<5"
    hidden_in_first_row = sum(1 for v in result.cells[0] if v == "<5")
    hidden_in_first_column = sum(1 for row in result.cells if row[0] == "<5")
    assert hidden_in_first_row >= 2 or result.row_totals[0] == "<5"  # type: ignore[index]
    assert hidden_in_first_column >= 2 or result.column_totals[0] == "<5"  # type: ignore[index]


def test_zero_and_large_counts_are_published_as_they_are() -> None:
    result = suppress([[0, 20], [30, 40]])
    assert result.cells == [[0, 20], [30, 40]]
    assert result.total == 90
    assert not result.hidden


def test_the_threshold_is_configurable() -> None:
    assert suppress_value(9, threshold=11) == "<11"
    assert suppress_value(11, threshold=11) == 11
    assert suppress([[7]], threshold=5, row_totals=False, column_totals=False).cells == [[7]]
    assert suppress([[7]], threshold=10, row_totals=False, column_totals=False).cells == [["<10"]]
