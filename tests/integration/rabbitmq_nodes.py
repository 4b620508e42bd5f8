"""A running node of each tested RabbitMQ line, loaded with a synthesized stack's topology.

Why one place: the broker tests and the alert tests each run a node of every line (the
machine's own broker where its Debian ships the line, a chroot otherwise) and load dev's
topology the way an operator boots a broker from definitions.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.integration.harness import RABBITMQ_START, require, within_budget
from tests.integration.rabbitmq_chroot import (
    LINES,
    ChrootUnavailableError,
    Line,
    chroot,
    install_hint,
    machine_suite,
)
from tests.synth_helpers import resources
from tools.rabbitmq_definitions import definitions, generated_password
from tools.rabbitmq_node import INSTALL_HINT, Broker, find_script, import_definitions


def _node(line: Line, tmp_path_factory: pytest.TempPathFactory) -> Broker:
    """The machine's own broker when its Debian ships `line`, else one in a chroot."""
    if machine_suite() == line.suite:
        for script in ("rabbitmq-server", "rabbitmqctl"):
            require(find_script(script) is not None, script, INSTALL_HINT)
        return Broker(home=tmp_path_factory.mktemp(f"rabbitmq-{line.name}"))
    try:
        root = chroot(line)
    except ChrootUnavailableError as error:
        require(False, f"RabbitMQ {line.name}", f"{error}; {install_hint(line)}")
        raise
    # Inside the chroot, so that the node can reach it; deleted when the node stops.
    home = Path(tempfile.mkdtemp(prefix="ml-queues-", dir=root / "tmp"))
    return Broker(home=home, root=root)


@contextmanager
def running(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A node of the line called `name` (LINES), stopped and cleaned up afterwards."""
    [line] = [line for line in LINES if line.name == name]
    node = _node(line, tmp_path_factory)
    node.configure()
    started = time.monotonic()
    node.start()
    try:
        within_budget(f"RabbitMQ {line.name} (logs: {node.home})", started, RABBITMQ_START)
        # The line meant, not whatever the machine happens to have.
        assert node.version[:2] == tuple(int(part) for part in line.name.split("."))
        yield node
    finally:
        node.stop()
        if node.root is not None:
            shutil.rmtree(node.home)


def connect(
    broker: Broker, topology: dict[str, Any], user: str = "guest", password: str = "guest"
) -> pika.BlockingConnection:
    """A connection to the loaded topology's vhost, as `user`."""
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host="127.0.0.1",
            port=broker.amqp_port,
            virtual_host=topology["vhosts"][0]["name"],
            credentials=pika.PlainCredentials(user, password),
        )
    )


def load_stack(broker: Broker, stack: dict[str, Any], passwords: dict[str, str]) -> dict[str, Any]:
    """One stack's definitions, imported; the test user "guest" may use its vhost.

    Each of the stack's users gets a fresh password, which reaches the broker as a salted
    hash in the definitions, never on a command line.
    """
    for user in resources(stack, "rabbitmq_user"):
        passwords[user["name"]] = generated_password()
    result = definitions(stack, passwords)
    import_definitions(broker, result)
    for vhost in result["vhosts"]:
        broker.ctl("set_permissions", "-p", vhost["name"], "guest", ".*", ".*", ".*")
    return result
