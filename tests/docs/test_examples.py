"""The producer and worker examples read only what `make worker-env` gives them.

`own_app.py`, the README's app of a user's own, is checked in test_own_app.py here and run
from an installed wheel in tests/integration/test_installed_package.py.

Every example also runs end to end in tests/integration: SQS's against moto, RabbitMQ's on a
real broker, Pub/Sub's on Google's Pub/Sub emulator (tests/integration/test_pubsub_emulator.py).
"""

from __future__ import annotations

import py_compile
import re
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.registry import env_lines, wirings

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "docs" / "examples"
# What a user adds from their own setup and secret store, not from the stack.
USER_SUPPLIED = {"AMQP_HOST", "AMQP_PORT", "AMQP_PASSWORD"}
WIRING_EXAMPLES = sorted(
    path for path in EXAMPLES.glob("*.py") if path.stem.endswith(("_producer", "_worker"))
)


def _declared(producer: bool) -> set[str]:
    """Every variable the typed wiring can give a producer or a worker."""
    classes = wirings(producer=producer)
    return {name for wiring in classes.values() for name in wiring.variables().values()}


def _keys(wiring: dict[str, Any], *, producer: bool) -> set[str]:
    return {line.split("=", 1)[0] for line in env_lines(wiring, producer=producer)}


@pytest.mark.parametrize("example", WIRING_EXAMPLES, ids=lambda path: path.name)
def test_each_example_compiles_and_reads_only_its_wiring(
    stack_json: dict[str, dict[str, Any]], example: Path, tmp_path: Path
) -> None:
    py_compile.compile(str(example), cfile=str(tmp_path / "example.pyc"), doraise=True)
    outputs = stack_json["dev"]["output"]
    producer = example.stem.endswith("_producer")
    who = "producer" if producer else "worker_1"
    available = _keys(outputs[who]["value"], producer=producer) | USER_SUPPLIED
    used = set(re.findall(r'os\.environ(?:\.get\()?\["?([A-Z_]+)', example.read_text()))
    assert used, example
    assert used <= _declared(producer) | USER_SUPPLIED, f"{example.name}: not in the wiring"
    assert used <= available, f"{example.name} reads {sorted(used - available)}"


def test_there_is_a_producer_and_a_worker_per_backend_and_the_own_app() -> None:
    names = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    assert names == sorted(
        [
            *(
                f"{backend}_{role}"
                for backend in ("pubsub", "rabbitmq", "sqs")
                for role in ("producer", "worker")
            ),
            "own_app",
        ]
    )
