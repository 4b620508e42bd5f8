"""The dev stack's RabbitMQ topology on a real broker, exercised with a real AMQP client.

The topology is loaded the way an operator would boot a broker from it: the RabbitMQ part of
the synthesized stack exported as a definitions file (tools/rabbitmq_definitions.py) and
imported with `rabbitmqctl import_definitions`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.integration.harness import require
from tests.integration.rabbitmq_broker import Broker, find_script
from tools.rabbitmq_definitions import definitions

INSTALL_HINT = (
    "install RabbitMQ: `apt-get install rabbitmq-server` (Debian/Ubuntu), `brew install"
    " rabbitmq` (macOS); the tests start their own node, so it need not be running"
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    for script in ("rabbitmq-server", "rabbitmqctl"):
        require(find_script(script) is not None, script, INSTALL_HINT)
    node = Broker(home=tmp_path_factory.mktemp("rabbitmq"))
    node.configure()
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def topology(broker: Broker, synth_dir: Path) -> dict[str, Any]:
    """The dev stack's definitions, imported; the test user may use the vhost."""
    stack = json.loads((synth_dir / "stacks" / "dev" / "cdk.tf.json").read_text())
    result = definitions(stack)
    path = broker.home / "dev-definitions.json"
    path.write_text(json.dumps(result))
    broker.ctl("import_definitions", str(path))
    [vhost] = result["vhosts"]
    broker.ctl("set_permissions", "-p", vhost["name"], "guest", ".*", ".*", ".*")
    return result


@pytest.fixture
def channel(broker: Broker, topology: dict[str, Any]) -> Iterator[Any]:
    """A channel with publisher confirms, on empty worker queues."""
    vhost = topology["vhosts"][0]["name"]
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(host="127.0.0.1", port=broker.amqp_port, virtual_host=vhost)
    )
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for queue in topology["queues"]:
            channel.queue_purge(queue["name"])
        yield channel
    finally:
        if connection.is_open:
            connection.close()


def _listed(broker: Broker, vhost: str, what: str, *columns: str) -> list[dict[str, Any]]:
    output = broker.ctl(f"list_{what}", "-p", vhost, *columns, "--formatter", "json")
    rows: list[dict[str, Any]] = json.loads(output)
    return rows


def _depths(channel: Any, topology: dict[str, Any]) -> dict[str, int]:
    return {
        queue["name"]: channel.queue_declare(queue["name"], passive=True).method.message_count
        for queue in topology["queues"]
    }


def test_the_broker_holds_the_synthesized_topology(
    broker: Broker, topology: dict[str, Any]
) -> None:
    vhost = topology["vhosts"][0]["name"]
    queues = _listed(broker, vhost, "queues", "name", "durable")
    assert sorted((q["name"], q["durable"]) for q in queues) == sorted(
        (q["name"], True) for q in topology["queues"]
    )
    [exchange] = [
        e
        for e in _listed(broker, vhost, "exchanges", "name", "type", "durable")
        if e["name"] == "ml_tasks"
    ]
    assert (exchange["type"], exchange["durable"]) == ("direct", True)
    bindings = _listed(broker, vhost, "bindings", "source_name", "destination_name", "routing_key")
    routed = sorted(
        (b["destination_name"], b["routing_key"])
        for b in bindings
        if b["source_name"] == "ml_tasks"
    )
    assert routed == sorted((q["name"], q["name"]) for q in topology["queues"])


def test_a_task_for_worker_2_reaches_only_worker_2(channel: Any, topology: dict[str, Any]) -> None:
    body = json.dumps({"shard": "gs://data/shard-0002", "epochs": 1}).encode()
    channel.basic_publish("ml_tasks", "worker_queue_2", body, mandatory=True)
    depths = _depths(channel, topology)
    assert depths.pop("worker_queue_2") == 1
    assert set(depths.values()) == {0}
    _, _, received = channel.basic_get("worker_queue_2", auto_ack=True)
    assert received == body


def test_a_task_for_no_worker_is_returned_not_lost(channel: Any) -> None:
    with pytest.raises(pika.exceptions.UnroutableError):
        channel.basic_publish("ml_tasks", "worker_queue_999", b"task", mandatory=True)


def test_confirmed_persistent_tasks_survive_a_broker_restart(
    broker: Broker, topology: dict[str, Any], channel: Any
) -> None:
    sent = [str(uuid.uuid4()) for _ in range(200)]
    for task_id in sent:
        channel.basic_publish(
            "ml_tasks",
            "worker_queue_1",
            task_id.encode(),
            properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
            mandatory=True,
        )
    channel.connection.close()

    broker.restart()

    vhost = topology["vhosts"][0]["name"]
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(host="127.0.0.1", port=broker.amqp_port, virtual_host=vhost)
    )
    try:
        after = connection.channel()
        received = []
        while True:
            method, _, body = after.basic_get("worker_queue_1", auto_ack=True)
            if method is None:
                break
            received.append(body.decode())
    finally:
        connection.close()
    assert len(received) == len(sent)
    assert sorted(received) == sorted(sent)
