"""The start budget: an engine that takes far longer to start than it should fails the tests
that need it, saying which engine, how long it took and where its log is, and is stopped.

Without it a start ten times slower than usual would pass inside each engine's generous wait
and show only as a slower CI run.
"""

from __future__ import annotations

import time

import pytest

from tests.integration.harness import moto_at, port_is_free, within_budget
from tools.processes import free_port


def test_a_start_within_its_budget_passes() -> None:
    within_budget("an engine", time.monotonic() - 1, budget=5)


def test_a_start_past_its_budget_fails_naming_the_engine_and_both_times() -> None:
    with pytest.raises(pytest.fail.Exception) as failure:
        within_budget("moto (log: /tmp/moto.log)", time.monotonic() - 50, budget=20)
    assert str(failure.value) == (
        "moto (log: /tmp/moto.log) took 50 s to start, more than its budget of 20 s: find out"
        " what slowed it (see its log) before raising the budget in"
        " tests/integration/harness.py"
    )


def test_a_real_engine_over_budget_fails_before_its_tests_and_is_stopped(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """moto, given no time at all: its fixture fails, and its port is free again."""
    port = free_port()
    with (
        pytest.raises(pytest.fail.Exception, match=r"^moto \(log: .*moto\.log\) took \d+ s"),
        moto_at(tmp_path_factory, port, budget=0),
    ):
        raise AssertionError("moto_at let a start over its budget through")
    assert port_is_free(port)
