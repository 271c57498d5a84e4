"""What ``serve`` does to the process before it serves: the garbage collector's tuning."""

from __future__ import annotations

import subprocess
import sys

from tirek.web.server import GC_THRESHOLDS

_PROBE = """
import gc
from tirek.web.server import tune_garbage_collector
before = gc.get_freeze_count()
tune_garbage_collector()
print(before, gc.get_freeze_count(), *gc.get_threshold())
"""


def test_serving_freezes_what_is_alive_and_collects_the_young_less_often() -> None:
    # In a process of its own: the test run keeps CPython's defaults.
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    before, frozen, *thresholds = map(int, out)
    assert before == 0
    assert frozen > 10_000  # the imported modules' objects
    assert tuple(thresholds) == GC_THRESHOLDS
