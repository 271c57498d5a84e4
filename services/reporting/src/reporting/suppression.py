"""Small-cell suppression of a two-way table of counts: a pure function, no I/O.

Primary suppression hides every count from 1 to ``threshold - 1`` (shown as ``"<5"``).
Secondary suppression then hides more cells until no hidden value can be computed from the
published cells and the published row, column and grand totals: the table with its totals is
a system of linear equations (each row's cells sum to the row total, ...), and a hidden cell is
disclosed exactly when its unit vector lies in the row space of that system restricted to the
hidden cells. While some hidden cell is disclosed, the smallest published count in its row or
column (totals included) is hidden too. Zeros are published as they are.

Tables without additive totals (distinct persons per cell, where a person counts once in each
cell but once in the total) get no totals (``row_totals=False, column_totals=False``): primary only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "TOTAL",
    "Cell",
    "SuppressedTable",
    "disclosed_cells",
    "mark",
    "suppress",
    "suppress_value",
]

#: A published cell: the count, or the suppression mark (``"<5"``).
Cell = int | str

#: Position of a cell in the table with totals: (row, column); ``TOTAL`` indexes the totals.
TOTAL = -1


@dataclass(frozen=True)
class SuppressedTable:
    """A table ready to publish: ``cells[r][c]``, ``row_totals[r]``, ``column_totals[c]``."""

    cells: list[list[Cell]]
    row_totals: list[Cell] | None
    column_totals: list[Cell] | None
    total: Cell | None
    #: Positions hidden (``TOTAL`` for totals), for exporters that mark them.
    hidden: frozenset[tuple[int, int]]


def mark(threshold: int) -> str:
    """The text a suppressed cell shows: ``"<5"`` for threshold 5."""
    return f"<{threshold}"


def suppress_value(value: int, threshold: int = 5) -> Cell:
    """One count on its own (no totals around it): primary suppression only."""
    return mark(threshold) if 0 < value < threshold else value


def suppress(
    counts: Sequence[Sequence[int]],
    threshold: int = 5,
    *,
    row_totals: bool = True,
    column_totals: bool = True,
) -> SuppressedTable:
    """Suppress ``counts`` (rows of equal length, non-negative) for a cross-NGO view.

    Returns the published table. ``row_totals`` / ``column_totals``: publish each row's /
    column's sum (computed here from the true counts, suppressed by the same rules); with
    both, the grand total too. Leave them off where a sum means nothing (distinct persons).
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    n_rows = len(counts)
    n_cols = len(counts[0]) if n_rows else 0
    if any(len(row) != n_cols for row in counts):
        raise ValueError("every row needs the same number of columns")
    if any(value < 0 for row in counts for value in row):
        raise ValueError("counts cannot be negative")
    grid: dict[tuple[int, int], int] = {
        (r, c): counts[r][c] for r in range(n_rows) for c in range(n_cols)
    }
    if row_totals:
        for r in range(n_rows):
            grid[(r, TOTAL)] = sum(counts[r])
    if column_totals:
        for c in range(n_cols):
            grid[(TOTAL, c)] = sum(counts[r][c] for r in range(n_rows))
    if row_totals and column_totals:
        grid[(TOTAL, TOTAL)] = sum(sum(row) for row in counts)
    hidden = {pos for pos, value in grid.items() if 0 < value < threshold}
    while True:
        disclosed = disclosed_cells(n_rows, n_cols, hidden, set(grid))
        if not disclosed:
            break
        hidden.add(_partner(grid, hidden, min(disclosed), n_rows, n_cols))

    def show(pos: tuple[int, int]) -> Cell:
        return mark(threshold) if pos in hidden else grid[pos]

    return SuppressedTable(
        [[show((r, c)) for c in range(n_cols)] for r in range(n_rows)],
        [show((r, TOTAL)) for r in range(n_rows)] if row_totals else None,
        [show((TOTAL, c)) for c in range(n_cols)] if column_totals else None,
        show((TOTAL, TOTAL)) if row_totals and column_totals else None,
        frozenset(hidden),
    )


def _partner(
    grid: dict[tuple[int, int], int],
    hidden: set[tuple[int, int]],
    cell: tuple[int, int],
    n_rows: int,
    n_cols: int,
) -> tuple[int, int]:
    """The published cell to hide beside a disclosed one.

    Among the published cells of its row and column (totals only when no other cell is
    left), the one leaving the fewest cells disclosed; then a non-zero count (hiding a zero
    protects less); then the smallest.
    """
    r, c = cell
    line = [(r, cc) for cc in (*range(n_cols), TOTAL)] + [(rr, c) for rr in (*range(n_rows), TOTAL)]
    candidates = [pos for pos in line if pos in grid and pos != cell and pos not in hidden]
    # Totals are what readers need most: hide one only when no cell of the line is left.
    interior = [pos for pos in candidates if TOTAL not in pos]
    candidates = interior or candidates
    if not candidates:
        # Cannot happen: a cell whose lines are all hidden is not disclosed by them.
        candidates = [pos for pos in grid if pos not in hidden]
    published = set(grid)

    def cost(pos: tuple[int, int]) -> tuple[int, bool, int, tuple[int, int]]:
        left = len(disclosed_cells(n_rows, n_cols, hidden | {pos}, published))
        return (left, grid[pos] == 0, grid[pos], pos)

    best: tuple[int, int] = min(candidates, key=cost)
    return best


def disclosed_cells(
    n_rows: int,
    n_cols: int,
    hidden: set[tuple[int, int]] | frozenset[tuple[int, int]],
    published: set[tuple[int, int]] | frozenset[tuple[int, int]],
) -> set[tuple[int, int]]:
    """Hidden positions whose value follows from the other cells and the totals' equations.

    ``published`` holds every position of the table (totals included, ``TOTAL`` indexing
    them). Each row with a total is an equation (its cells sum to its total), and so is each
    column with a total. Every position ``(r, c)`` appears in exactly two of them, row ``r``'s
    and column ``c``'s, so the hidden positions are the edges of a graph whose vertices are
    the equations, all absent equations (no total) merged into one unconstrained vertex. A
    hidden value is determined exactly when its edge is a bridge of that graph: on a cycle,
    values can shift around it (+d, -d, ...) leaving every total unchanged; across a bridge,
    the alternating sum of the equations on one side isolates it.
    """
    del n_rows, n_cols  # the positions say it all

    def vertex(kind: str, index: int) -> tuple[str, int]:
        exists = (index, TOTAL) in published if kind == "R" else (TOTAL, index) in published
        if index == TOTAL:
            exists = (TOTAL, TOTAL) in published
        return (kind, index) if exists else ("free", 0)

    edges = [(vertex("R", r), vertex("C", c), (r, c)) for r, c in sorted(hidden)]
    return {pos for pos in _bridges(edges)}


def _bridges(
    edges: list[tuple[tuple[str, int], tuple[str, int], tuple[int, int]]],
) -> set[tuple[int, int]]:
    """Labels of the bridges of a multigraph given as (u, v, label) edges (loops are none)."""
    adjacency: dict[tuple[str, int], list[tuple[tuple[str, int], int]]] = {}
    for number, (u, v, _) in enumerate(edges):
        if u == v:
            continue
        adjacency.setdefault(u, []).append((v, number))
        adjacency.setdefault(v, []).append((u, number))
    order: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    bridges: set[tuple[int, int]] = set()
    for root in adjacency:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        # Iterative DFS: (vertex, edge number it was entered by, iterator over neighbours).
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for nxt, number in neighbours:
                if number == via:
                    continue
                if nxt in order:
                    low[node] = min(low[node], order[nxt])
                    continue
                order[nxt] = low[nxt] = len(order)
                stack.append((nxt, number, iter(adjacency[nxt])))
                advanced = True
                break
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    bridges.add(edges[via][2])
    return bridges
