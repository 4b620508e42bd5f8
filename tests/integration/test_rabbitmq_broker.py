"""The dev stack's RabbitMQ topology on a real broker, exercised with a real AMQP client.

The topology is loaded the way an operator would boot a broker from it: the RabbitMQ part of
the synthesized stack exported as a definitions file (tools/rabbitmq_definitions.py) and
imported with `rabbitmqctl import_definitions`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from stacks.settings import load_environment
from tests.integration.harness import require, run
from tests.integration.rabbitmq_broker import Broker, find_script
from tests.synth_helpers import PROJECT_ROOT, resources
from tools.plan_guard import Change, rabbitmq_counter
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
def passwords() -> dict[str, str]:
    """Fresh passwords for the stack's users, as an operator's TF_VAR_* would hold them."""
    return {}


@pytest.fixture(scope="module")
def topology(broker: Broker, synth_dir: Path, passwords: dict[str, str]) -> dict[str, Any]:
    """The dev stack's definitions, imported; the test user "guest" may use the vhost.

    A definitions file carries no users (their passwords never reach the JSON), so the
    stack's users are created first, the way an operator would, and the file grants them.
    """
    stack = json.loads((synth_dir / "stacks" / "dev" / "cdk.tf.json").read_text())
    for user in resources(stack, "rabbitmq_user"):
        # Hex: a URL-safe token may start with "-", which rabbitmqctl reads as an option.
        passwords[user["name"]] = secrets.token_hex(24)
        broker.ctl("add_user", user["name"], passwords[user["name"]])
    result = definitions(stack)
    path = broker.home / "dev-definitions.json"
    path.write_text(json.dumps(result))
    broker.ctl("import_definitions", str(path))
    [vhost] = result["vhosts"]
    broker.ctl("set_permissions", "-p", vhost["name"], "guest", ".*", ".*", ".*")
    return result


def _connect(
    broker: Broker, topology: dict[str, Any], user: str = "guest", password: str = "guest"
) -> pika.BlockingConnection:
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host="127.0.0.1",
            port=broker.amqp_port,
            virtual_host=topology["vhosts"][0]["name"],
            credentials=pika.PlainCredentials(user, password),
        )
    )


@pytest.fixture
def channel(broker: Broker, topology: dict[str, Any]) -> Iterator[Any]:
    """An administrator's channel with publisher confirms, on empty queues."""
    connection = _connect(broker, topology)
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


def test_the_broker_is_at_least_the_version_the_dev_config_names(broker: Broker) -> None:
    """Below it the stack's policy could hold keys this broker would refuse."""
    settings = load_environment(PROJECT_ROOT / "config", "dev")
    assert settings.rabbitmq is not None
    status = json.loads(broker.ctl("status", "--formatter", "json"))
    running = tuple(int(part) for part in status["rabbitmq_version"].split(".")[:3])
    assert running >= settings.rabbitmq.broker_version


def test_the_broker_holds_the_synthesized_topology(
    broker: Broker, topology: dict[str, Any]
) -> None:
    vhost = topology["vhosts"][0]["name"]
    policies = {policy["name"]: policy for policy in topology["policies"]}
    assert sorted(policies) == ["ml_tasks-exchange", "ml_tasks-workers"]
    queues = _listed(broker, vhost, "queues", "name", "durable", "type", "policy")
    workers = sorted(q["name"] for q in topology["queues"] if q["name"].startswith("worker_"))
    assert sorted((q["name"], q["durable"], q["type"], q["policy"]) for q in queues) == sorted(
        [("ml_tasks.dead_letter", True, "quorum", ""), ("ml_tasks.unroutable", True, "quorum", "")]
        + [(name, True, "quorum", "ml_tasks-workers") for name in workers]
    )
    exchanges = {
        e["name"]: (e["type"], e["durable"], e["policy"])
        for e in _listed(broker, vhost, "exchanges", "name", "type", "durable", "policy")
    }
    assert exchanges["ml_tasks"] == ("direct", True, "ml_tasks-exchange")
    assert exchanges["ml_tasks.dead_letter"] == ("fanout", True, "")
    assert exchanges["ml_tasks.unroutable"] == ("fanout", True, "")
    bindings = _listed(broker, vhost, "bindings", "source_name", "destination_name", "routing_key")
    routed = sorted(
        (b["source_name"], b["destination_name"], b["routing_key"])
        for b in bindings
        if b["source_name"].startswith("ml_tasks")
    )
    assert routed == sorted(
        [
            ("ml_tasks.dead_letter", "ml_tasks.dead_letter", ""),
            ("ml_tasks.unroutable", "ml_tasks.unroutable", ""),
        ]
        + [("ml_tasks", name, name) for name in workers]
    )


def test_a_task_for_worker_2_reaches_only_worker_2(channel: Any, topology: dict[str, Any]) -> None:
    body = json.dumps({"shard": "gs://data/shard-0002", "epochs": 1}).encode()
    channel.basic_publish("ml_tasks", "worker_queue_2", body, mandatory=True)
    depths = _depths(channel, topology)
    assert depths.pop("worker_queue_2") == 1
    assert set(depths.values()) == {0}, depths
    _, _, received = channel.basic_get("worker_queue_2", auto_ack=True)
    assert received == body


def test_a_task_for_no_worker_is_kept_in_the_unroutable_queue(channel: Any) -> None:
    """Kept whatever the producer's flags: the alternate exchange takes it, so it is neither
    dropped (no `mandatory`) nor only returned to a producer that may not listen."""
    body = f"task for nobody {uuid.uuid4()}".encode()
    channel.basic_publish("ml_tasks", "worker_queue_999", body, mandatory=True)
    channel.basic_publish("ml_tasks", "no such worker", body)
    for _ in range(2):
        _, _, received = channel.basic_get("ml_tasks.unroutable", auto_ack=True)
        assert received == body
    for name in ("worker_queue_1", "worker_queue_2", "worker_queue_3", "ml_tasks.dead_letter"):
        assert channel.queue_declare(name, passive=True).method.message_count == 0


def test_the_plan_guard_counts_waiting_tasks_through_the_management_api(
    broker: Broker, channel: Any, topology: dict[str, Any]
) -> None:
    """What `make plan` asks before it lets a queue, the exchange or the vhost go."""
    vhost = topology["vhosts"][0]["name"]
    for _ in range(3):
        channel.basic_publish("ml_tasks", "worker_queue_2", b"task", mandatory=True)
    count = rabbitmq_counter(f"http://127.0.0.1:{broker.management_port}", "guest", "guest")

    def waiting(resource_type: str, **before: str) -> int | None:
        return count(Change(f"{resource_type}.x", resource_type, "delete", (), before))

    # The management API's counts follow the broker's statistics, every few seconds.
    deadline = time.monotonic() + 30
    while waiting("rabbitmq_queue", name="worker_queue_2", vhost=vhost) != 3:
        assert time.monotonic() < deadline, "the management API never counted the 3 tasks"
        time.sleep(0.5)
    assert waiting("rabbitmq_queue", name="worker_queue_1", vhost=vhost) == 0
    assert waiting("rabbitmq_exchange", name="ml_tasks", vhost=vhost) == 3
    assert waiting("rabbitmq_vhost", name=vhost) == 3


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

    connection = _connect(broker, topology)
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


def test_a_task_rejected_up_to_the_delivery_limit_is_dead_lettered_intact(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    [policy] = [p for p in topology["policies"] if p["name"] == "ml_tasks-workers"]
    limit = policy["definition"]["delivery-limit"]
    body = json.dumps({"shard": "gs://data/shard-0003", "epochs": 2}).encode()
    producer = _connect(
        broker, topology, "ml-queues-dev-producer", passwords["ml-queues-dev-producer"]
    )
    try:
        publish = producer.channel()
        publish.confirm_delivery()
        publish.basic_publish("ml_tasks", "worker_queue_3", body, mandatory=True)
    finally:
        producer.close()

    worker = _connect(
        broker, topology, "ml-queues-dev-worker-3", passwords["ml-queues-dev-worker-3"]
    )
    deliveries = 0
    try:
        work = worker.channel()
        for _ in range(limit + 5):
            method, _, received = work.basic_get("worker_queue_3")
            if method is None:
                break
            assert received == body
            deliveries += 1
            work.basic_nack(method.delivery_tag, requeue=True)
    finally:
        worker.close()
    # The first delivery plus `limit` redeliveries; the next return dead-letters it.
    assert deliveries == limit + 1

    dead = None
    deadline = time.monotonic() + 10
    while dead is None and time.monotonic() < deadline:
        method, properties, received = channel.basic_get("ml_tasks.dead_letter", auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        dead = (properties, received)
    assert dead is not None, "the task never reached ml_tasks.dead_letter"
    properties, received = dead
    assert received == body
    [death] = properties.headers["x-death"]
    assert (death["queue"], death["reason"]) == ("worker_queue_3", "delivery_limit")
    assert _depths(channel, topology)["worker_queue_3"] == 0


@pytest.mark.parametrize(
    "case",
    [
        ("ml-queues-dev-worker-1", "read", "worker_queue_2"),
        ("ml-queues-dev-worker-1", "publish", "ml_tasks"),
        ("ml-queues-dev-producer", "read", "worker_queue_1"),
        ("ml-queues-dev-producer", "read", "ml_tasks.dead_letter"),
    ],
)
def test_users_are_refused_what_they_were_not_granted(
    broker: Broker,
    topology: dict[str, Any],
    passwords: dict[str, str],
    case: tuple[str, str, str],
) -> None:
    user, action, target = case
    connection = _connect(broker, topology, user, passwords[user])
    try:
        refused = connection.channel()
        refused.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as error:
            if action == "read":
                refused.basic_get(target)
            else:
                refused.basic_publish(target, "worker_queue_1", b"task")
        assert error.value.reply_code == 403
    finally:
        connection.close()


def test_a_worker_reads_its_own_queue(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    channel.basic_publish("ml_tasks", "worker_queue_1", b"task for worker 1", mandatory=True)
    worker = _connect(
        broker, topology, "ml-queues-dev-worker-1", passwords["ml-queues-dev-worker-1"]
    )
    try:
        work = worker.channel()
        method, _, received = work.basic_get("worker_queue_1")
        assert method is not None and received == b"task for worker 1"
        work.basic_ack(method.delivery_tag)
    finally:
        worker.close()


def _example(
    broker: Broker,
    topology: dict[str, Any],
    passwords: dict[str, str],
    name: str,
    user: str,
    *args: str,
) -> subprocess.CompletedProcess[str]:
    """docs/examples/<name>, with what `make worker-env` and the secret store would give."""
    env = {
        **os.environ,
        "AMQP_HOST": "127.0.0.1",
        "AMQP_PORT": str(broker.amqp_port),
        "AMQP_VHOST": topology["vhosts"][0]["name"],
        "AMQP_EXCHANGE": "ml_tasks",
        "AMQP_ROUTING_KEYS": "worker_queue_1,worker_queue_2,worker_queue_3",
        "AMQP_QUEUE": f"worker_queue_{user.rsplit('-', 1)[1]}" if "worker" in user else "",
        "AMQP_USER": user,
        "AMQP_PASSWORD": passwords[user],
    }
    example = PROJECT_ROOT / "docs" / "examples" / name
    return run([sys.executable, str(example), *args], cwd=PROJECT_ROOT, env=env, timeout=60)


def test_the_rabbitmq_examples_deliver_a_task_to_worker_3_only(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    sent = _example(
        broker,
        topology,
        passwords,
        "rabbitmq_producer.py",
        "ml-queues-dev-producer",
        "3",
        "t-7",
        "gs://d/3",
    )
    assert sent.returncode == 0, sent.stderr
    other = _example(broker, topology, passwords, "rabbitmq_worker.py", "ml-queues-dev-worker-1")
    assert (other.returncode, other.stdout) == (0, ""), other.stderr
    worker = _example(broker, topology, passwords, "rabbitmq_worker.py", "ml-queues-dev-worker-3")
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.startswith("task t-7: training on gs://d/3 with {'learning_rate'")
    assert _depths(channel, topology)["worker_queue_3"] == 0
