"""The dev stack's RabbitMQ topology on real brokers, exercised with a real AMQP client.

The topology is loaded the way an operator would boot a broker from it: the RabbitMQ part of
the synthesized stack exported as a definitions file (tools/rabbitmq_definitions.py) and
imported with `rabbitmqctl import_definitions`.

Every test runs on each tested line (tests/integration/rabbitmq_chroot.py LINES): 4.0, the
line users run (Debian 13's), and 3.10 (Debian 12's). Quorum queues changed between them:
4.0 gives a queue without a limit of its own a delivery limit of 20, and from 4.3 only a
reject (not a nack) counts toward it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pika
import pytest
from cdktf import TerraformStack, Testing

from constructs_lib.rabbitmq.exchange import RabbitMqTaskExchange
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from stacks.settings import load_environment
from tests.integration.harness import run
from tests.integration.rabbitmq_nodes import connect, load_stack
from tests.synth_helpers import PROJECT_ROOT, synth
from tools.plan_guard import Change, count_tasks, counters
from tools.rabbitmq_node import Broker

# Returns a kept queue must survive, past 4.0's default delivery limit of 20: 30 rejects,
# which count toward a limit on every line, and between them 10 nacks, which do up to 4.2.
KEPT_REJECTS = 30
KEPT_RETURNS = 40
# More than one task in flight at once: the quorum queues guide warns that a prefetch above
# 1 can lose every outstanding delivery when they are requeued as a group.
KEPT_PREFETCH = 10


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
    assert settings.backends["rabbitmq"] is not None
    assert broker.version >= settings.backends["rabbitmq"].broker_version


def test_the_broker_holds_the_synthesized_topology(
    broker: Broker, topology: dict[str, Any]
) -> None:
    vhost = topology["vhosts"][0]["name"]
    policies = {policy["name"]: policy for policy in topology["policies"]}
    assert sorted(policies) == ["ml_tasks-exchange", "ml_tasks-kept", "ml_tasks-workers"]
    queues = _listed(broker, vhost, "queues", "name", "durable", "type", "policy")
    workers = sorted(q["name"] for q in topology["queues"] if q["name"].startswith("worker_"))
    kept = ["ml_tasks.dead_letter", "ml_tasks.unroutable"]
    assert sorted((q["name"], q["durable"], q["type"], q["policy"]) for q in queues) == sorted(
        [(name, True, "quorum", "ml_tasks-kept") for name in kept]
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
    # The guard's own counters, found through the backend registry from the stack's provider.
    endpoint = f"http://127.0.0.1:{broker.management_port}"
    stack = {"provider": {"rabbitmq": [{"endpoint": endpoint}]}}
    by_prefix = counters(stack, {"RABBITMQ_USERNAME": "guest", "RABBITMQ_PASSWORD": "guest"})
    assert list(by_prefix) == ["rabbitmq_"]

    def waiting(resource_type: str, **before: str) -> int | None:
        change = Change(f"{resource_type}.x", resource_type, "delete", (), before)
        return count_tasks(change, by_prefix)

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

    connection = connect(broker, topology)
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


def _dead_letter(channel: Any) -> tuple[Any, bytes]:
    """The next task in ml_tasks.dead_letter (dead-lettering is asynchronous), taken."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        method, properties, received = channel.basic_get("ml_tasks.dead_letter", auto_ack=True)
        if method is not None:
            return properties, received
        time.sleep(0.1)
    raise AssertionError("the task never reached ml_tasks.dead_letter")


def test_a_task_rejected_up_to_the_delivery_limit_is_dead_lettered_intact(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    """`basic.reject` with requeue: from 4.3 the one AMQP 0-9-1 return that counts toward the
    limit ("basic.reject signals that message processing failed"; a nack does not), and on
    3.x and 4.0 every return counts."""
    body = json.dumps({"shard": "gs://data/shard-0003", "epochs": 2}).encode()
    _publish(broker, topology, passwords, body)
    worker = connect(
        broker, topology, "ml-queues-dev-worker-3", passwords["ml-queues-dev-worker-3"]
    )
    deliveries = 0
    try:
        work = worker.channel()
        for _ in range(_limit(topology) + 5):
            method, _, received = work.basic_get("worker_queue_3")
            if method is None:
                break
            assert received == body
            deliveries += 1
            work.basic_reject(method.delivery_tag, requeue=True)
    finally:
        worker.close()
    # The first delivery plus `limit` redeliveries; the next return dead-letters it.
    assert deliveries == _limit(topology) + 1
    _assert_dead_lettered(channel, topology, body)


def _limit(topology: dict[str, Any]) -> int:
    [policy] = [p for p in topology["policies"] if p["name"] == "ml_tasks-workers"]
    limit: int = policy["definition"]["delivery-limit"]
    return limit


def _publish(
    broker: Broker, topology: dict[str, Any], passwords: dict[str, str], body: bytes
) -> None:
    """One task for worker 3, published and confirmed by the producer's user."""
    producer = connect(
        broker, topology, "ml-queues-dev-producer", passwords["ml-queues-dev-producer"]
    )
    try:
        publish = producer.channel()
        publish.confirm_delivery()
        publish.basic_publish("ml_tasks", "worker_queue_3", body, mandatory=True)
    finally:
        producer.close()


def _assert_dead_lettered(channel: Any, topology: dict[str, Any], body: bytes) -> None:
    """`body` is in ml_tasks.dead_letter, intact, past worker 3's delivery limit, and no
    longer in worker 3's queue."""
    properties, received = _dead_letter(channel)
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
    connection = connect(broker, topology, user, passwords[user])
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
    worker = connect(
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
    wiring = {
        "AMQP_VHOST": topology["vhosts"][0]["name"],
        "AMQP_ROUTING_KEYS": "worker_queue_1,worker_queue_2,worker_queue_3",
        "AMQP_QUEUE": f"worker_queue_{user.rsplit('-', 1)[1]}" if "worker" in user else "",
        "AMQP_USER": user,
        "AMQP_PASSWORD": passwords[user],
    }
    return _run_example(broker, wiring, name, *args)


def _run_example(
    broker: Broker, wiring: dict[str, str], name: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """docs/examples/<name> with `wiring` (the administrator "guest" unless it names a user)."""
    env = {
        **os.environ,
        "AMQP_HOST": "127.0.0.1",
        "AMQP_PORT": str(broker.amqp_port),
        "AMQP_EXCHANGE": "ml_tasks",
        "AMQP_USER": "guest",
        "AMQP_PASSWORD": "guest",
        **wiring,
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


def _return_many_times(channel: Any, queue: str, count: int) -> list[bytes]:
    """Take the `count` tasks waiting in `queue` with a prefetch above 1 and return them all,
    KEPT_RETURNS times, as an operator who inspects them would: a reject of each (requeue),
    the return that counts toward a delivery limit on every line, and every fourth time a
    nack of all (multiple, requeue). Then take them for good; their bodies."""
    channel.basic_qos(prefetch_count=KEPT_PREFETCH)
    deliveries = channel.consume(queue, inactivity_timeout=10)
    for turn in range(KEPT_RETURNS):
        held: list[Any] = []
        while len(held) < count:
            method, _, _ = next(deliveries)
            assert method is not None, f"return {turn}: {len(held)} of {count} tasks came back"
            held.append(method)
        if turn % 4 == 3:
            channel.basic_nack(held[-1].delivery_tag, multiple=True, requeue=True)
        else:
            for method in held:
                channel.basic_reject(method.delivery_tag, requeue=True)
    channel.cancel()
    kept: list[bytes] = []
    while True:
        method, properties, body = channel.basic_get(queue)
        if method is None:
            return kept
        # The broker counted the returns, past 4.0's default limit of 20, and kept the task.
        assert properties.headers["x-delivery-count"] >= KEPT_REJECTS
        channel.basic_ack(method.delivery_tag)
        kept.append(body)


def _assert_kept_queues_keep_returned_tasks(channel: Any) -> None:
    tasks = {
        "ml_tasks.dead_letter": [f"dead letter {n} {uuid.uuid4()}".encode() for n in range(5)],
        "ml_tasks.unroutable": [f"for nobody {n} {uuid.uuid4()}".encode() for n in range(5)],
    }
    for body in tasks["ml_tasks.dead_letter"]:
        channel.basic_publish("ml_tasks.dead_letter", "worker_queue_1", body)
    for body in tasks["ml_tasks.unroutable"]:
        channel.basic_publish("ml_tasks", "worker_queue_999", body)
    for queue, sent in tasks.items():
        assert sorted(_return_many_times(channel, queue, len(sent))) == sorted(sent), queue


def test_the_kept_queues_keep_a_task_returned_any_number_of_times(channel: Any) -> None:
    """An operator inspects what was kept and returns it: on 4.x, without a policy of their
    own, the kept queues would drop each task at its 21st return (4.0's default limit)."""
    _assert_kept_queues_keep_returned_tasks(channel)


def test_staging_s_unlimited_kept_queues_need_4_0(
    broker: Broker, synth_dir: Path, passwords: dict[str, str]
) -> None:
    """staging runs 4.0 or newer, so its kept queues' limit is -1 (none), which 4.0 takes and
    3.x refuses: min_broker_version is what keeps an older broker from getting it."""
    stack = json.loads((synth_dir / "stacks" / "staging" / "cdk.tf.json").read_text())
    if broker.version < (4, 0):
        with pytest.raises(RuntimeError, match="not a valid delivery limit"):
            load_stack(broker, stack, passwords)
        return
    staging = load_stack(broker, stack, passwords)
    [kept] = [p for p in staging["policies"] if p["name"] == "ml_tasks-kept"]
    assert kept["definition"] == {"delivery-limit": -1}
    connection = connect(broker, staging)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        _assert_kept_queues_keep_returned_tasks(channel)
    finally:
        connection.close()


def test_a_poison_task_the_example_worker_fails_on_reaches_the_dead_letter_queue(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    """The example worker rejects (requeue) a task it fails on: redelivered up to the limit,
    then dead-lettered, where a nack would loop for ever from 4.3."""
    poison = b"not a task"
    _publish(broker, topology, passwords, poison)
    runs = []
    for _ in range(_limit(topology) + 1):
        runs.append(
            _example(broker, topology, passwords, "rabbitmq_worker.py", "ml-queues-dev-worker-3")
        )
    assert {(run.returncode, run.stdout) for run in runs} == {(1, "")}
    assert all(run.stderr.startswith("task rejected, returned to its queue:") for run in runs)
    _assert_dead_lettered(channel, topology, poison)


def _policy_of(broker: Broker, vhost: str, queue: str) -> str:
    [row] = [q for q in _listed(broker, vhost, "queues", "name", "policy") if q["name"] == queue]
    policy: str = row["policy"]
    return policy


def test_an_operator_policy_below_the_project_s_priority_cannot_undo_dead_lettering(
    broker: Broker, topology: dict[str, Any], channel: Any, passwords: dict[str, str]
) -> None:
    """Only the matching policy of highest priority applies: an operator's own policy below
    1000 leaves the project's in place; at or above it, it would replace every key."""
    vhost = topology["vhosts"][0]["name"]

    def operator_policy(priority: int) -> None:
        broker.ctl(
            "set_policy", "-p", vhost, "--priority", str(priority), "--apply-to", "queues",
            "operator-limits", "^worker_queue_", json.dumps({"max-length": 100000}),
        )  # fmt: skip

    try:
        operator_policy(999)
        assert _policy_of(broker, vhost, "worker_queue_3") == "ml_tasks-workers"
        body = b"rejected under an operator's policy"
        _publish(broker, topology, passwords, body)
        worker = connect(
            broker, topology, "ml-queues-dev-worker-3", passwords["ml-queues-dev-worker-3"]
        )
        try:
            work = worker.channel()
            for _ in range(_limit(topology) + 1):
                method, _, _ = work.basic_get("worker_queue_3")
                assert method is not None
                work.basic_reject(method.delivery_tag, requeue=True)
        finally:
            worker.close()
        _assert_dead_lettered(channel, topology, body)
        # The rule docs/rabbitmq.md gives operators is real: above the project's, theirs wins.
        operator_policy(1001)
        assert _policy_of(broker, vhost, "worker_queue_3") == "operator-limits"
    finally:
        broker.ctl("clear_policy", "-p", vhost, "operator-limits")
    assert _policy_of(broker, vhost, "worker_queue_3") == "ml_tasks-workers"


def test_a_full_queue_refuses_a_task_and_the_producer_sees_the_nack(
    broker: Broker, passwords: dict[str, str]
) -> None:
    """`overflow = reject-publish` answers a publisher that uses confirms with a nack; the
    tasks already waiting stay. The example producer fails loudly rather than lose it."""
    vhost = "ml-queues-full"
    stack = TerraformStack(Testing.app(), "full")
    props = RabbitMqTaskExchangeProps(
        vhost=vhost, workers=1, max_length=2, min_broker_version="3.10"
    )
    RabbitMqTaskExchange(stack, "tasks", props)
    broker.ctl("add_vhost", vhost)
    broker.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    # A construct alone has no vhost resource: the vhost made above is the one it names.
    load_stack(broker, synth(stack), passwords)
    connection = connect(broker, {"vhosts": [{"name": vhost}]})
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        acked, nacked = [], []
        # A quorum queue refuses once it is over its limit, so it takes one task more (4.0.5
        # and 3.10.8 alike): the promise is that every task is acked and kept, or nacked.
        for n in range(4):
            task = f"task {n}".encode()
            try:
                channel.basic_publish("ml_tasks", "worker_queue_1", task)
                acked.append(task)
            except pika.exceptions.NackError:
                nacked.append(task)
        assert (acked, nacked) == ([b"task 0", b"task 1", b"task 2"], [b"task 3"])
        refused = _run_example(
            broker,
            {"AMQP_VHOST": vhost, "AMQP_ROUTING_KEYS": "worker_queue_1"},
            "rabbitmq_producer.py",
            "1",
            "t-9",
            "gs://d/9",
        )
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == (
            "task t-9 refused by the broker (its queue is full): not sent, send it later\n"
        )
        waiting = []
        while (got := channel.basic_get("worker_queue_1", auto_ack=True))[0] is not None:
            waiting.append(got[2])
        # The oldest stayed; nothing refused slipped in.
        assert waiting == acked
    finally:
        connection.close()
