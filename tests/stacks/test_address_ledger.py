"""No stack drops a resource address it has released (the data-loss rule; docs/operations.md).

Each environment's `tests/ledger/<env>.txt` lists every address it has released. A stack that
no longer has one fails here unless a `moved` block carries it or its line is marked retired,
and a stack with an address the ledger lacks fails until `make ledger-update` adds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks.settings import ENVIRONMENTS
from tools.address_ledger import UPDATE_COMMAND, orphans, problems, read

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
LEDGERS = PROJECT_ROOT / "tests" / "ledger"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_stack_keeps_every_address_it_released(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    ledger = LEDGERS / f"{env}.txt"
    name = str(ledger.relative_to(PROJECT_ROOT))
    assert ledger.is_file(), f"environment {env} has no {name}; run `{UPDATE_COMMAND}`"
    found = problems(env, name, read(ledger), stack_json[env])
    assert not found, "\n".join(found)


def test_no_ledger_outlives_its_environment() -> None:
    found = orphans(LEDGERS, ENVIRONMENTS)
    assert not found, "\n".join(found)
