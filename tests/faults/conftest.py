"""The fault-injection suite (``make test-faults``): the platform as ``make run`` starts it, a
steady load, a fault, recovery, then independent counters asserting nothing lost or doubled.

Every test here is marked ``faults``; ``make test`` deselects them (``-m 'not faults'`` in the
workspace's pytest options) and ``make test-faults`` runs only them. The counters tables of
the run are printed at the end (and written to ``$TIREK_FAULTS_REPORT`` when set).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.counters import Table
from tests.faults.platform import Platform, start_platform

SERVICES = ("intake", "referral", "notification", "reporting", "admin")
_TABLES: list[Table] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TABLES:
        return
    text = "\n\n".join(table.markdown() for table in _TABLES)
    terminalreporter.write_sep("=", "fault injection: counters")
    terminalreporter.write_line(text)
    if target := os.environ.get("TIREK_FAULTS_REPORT"):
        Path(target).write_text(text + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def faults_home() -> Iterator[Path]:
    # Under /tmp with 0755: PostgreSQL runs as an unprivileged user when we are root.
    path = Path(tempfile.mkdtemp(prefix="tirek-faults-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def platform(faults_home: Path, namespace: str) -> Iterator[Platform]:
    """One platform (one NATS server) shared by the scenarios; each scenario counts only its
    own operations (its marker date), so they stay independent."""
    started = start_platform(faults_home / "single", namespace=f"{namespace}f", services=SERVICES)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def report() -> Callable[[Table], None]:
    return _TABLES.append
