from __future__ import annotations

import re
from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack

from constructs_lib.limits import LimitError
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange
from tests.synth_helpers import resources, synth

QUORUM = {"durable": True, "arguments": {"x-queue-type": "quorum"}}


def test_seed_topology_durable_direct_exchange_and_three_quorum_worker_queues(
    stack: TerraformStack,
) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml", dead_letter=False, delivery_limit=None)
    synthesized = synth(stack)
    assert resources(synthesized, "rabbitmq_exchange") == [
        {"name": "ml_tasks", "vhost": "ml", "settings": {"type": "direct", "durable": True}}
    ]
    assert resources(synthesized, "rabbitmq_queue") == [
        {"name": f"worker_queue_{n}", "vhost": "ml", "settings": QUORUM} for n in (1, 2, 3)
    ]
    assert "rabbitmq_policy" not in synthesized["resource"]


def test_classic_queues_are_durable_without_a_type_argument(stack: TerraformStack) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml", queue_type="classic", delivery_limit=None)
    synthesized = synth(stack)
    assert {q["name"]: q["settings"] for q in resources(synthesized, "rabbitmq_queue")} == {
        name: {"durable": True}
        for name in ("ml_tasks.dead_letter", "worker_queue_1", "worker_queue_2", "worker_queue_3")
    }
    [policy] = resources(synthesized, "rabbitmq_policy")
    # Classic queues dead-letter rejected and expired tasks, at most once.
    assert policy["policy"]["definition"] == {"dead-letter-exchange": "ml_tasks.dead_letter"}


def test_dead_letters_go_through_a_fanout_exchange_to_a_queue_of_the_same_type(
    stack: TerraformStack,
) -> None:
    tasks = RabbitMqTaskExchange(stack, "tasks", vhost="ml")
    TerraformOutput(stack, "dlq", value=tasks.dead_letter_queue_name)
    synthesized = synth(stack)
    exchanges = {e["name"]: e for e in resources(synthesized, "rabbitmq_exchange")}
    assert exchanges["ml_tasks.dead_letter"]["settings"] == {"type": "fanout", "durable": True}
    queues = {q["name"]: q for q in resources(synthesized, "rabbitmq_queue")}
    assert queues["ml_tasks.dead_letter"]["settings"] == QUORUM
    [binding] = [
        b for b in resources(synthesized, "rabbitmq_binding") if "dead_letter" in b["source"]
    ]
    assert binding["routing_key"] == ""
    assert "dead_letter_queue" in binding["destination"]
    assert synthesized["output"]["dlq"]["value"].startswith("${rabbitmq_queue.")


def test_mutable_settings_live_in_one_policy_that_matches_only_worker_queues(
    stack: TerraformStack,
) -> None:
    RabbitMqTaskExchange(
        stack,
        "tasks",
        vhost="ml",
        delivery_limit=7,
        message_ttl_seconds=3600,
        max_length=10_000,
        consumer_timeout_seconds=7200,
    )
    [policy] = resources(synthesized := synth(stack), "rabbitmq_policy")
    assert policy == {
        "name": "ml_tasks-workers",
        "vhost": "ml",
        "policy": {
            "pattern": "^worker_queue_[0-9]+$",
            "priority": 0,
            "apply_to": "queues",
            "definition": {
                "dead-letter-exchange": "ml_tasks.dead_letter",
                "dead-letter-strategy": "at-least-once",
                "overflow": "reject-publish",
                "delivery-limit": "7",
                "message-ttl": "3600000",
                "max-length": "10000",
                "consumer-timeout": "7200000",
            },
        },
    }
    pattern = re.compile(policy["policy"]["pattern"])
    names = [q["name"] for q in resources(synthesized, "rabbitmq_queue")]
    assert [n for n in names if pattern.search(n)] == [f"worker_queue_{n}" for n in (1, 2, 3)]


def test_the_delivery_limit_is_set_explicitly_by_default(stack: TerraformStack) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml")
    [policy] = resources(synth(stack), "rabbitmq_policy")
    assert policy["policy"]["definition"]["delivery-limit"] == "20"


def test_prevent_destroy_protects_exchanges_and_queues_only(stack: TerraformStack) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml", prevent_destroy=True)
    synthesized = synth(stack)
    for resource_type, bodies in synthesized["resource"].items():
        protected = resource_type in ("rabbitmq_exchange", "rabbitmq_queue")
        for body in bodies.values():
            assert ("lifecycle" in body) == protected, resource_type
            if protected:
                assert body["lifecycle"] == {"prevent_destroy": True}


def test_grants_give_the_producer_the_exchange_and_each_worker_its_own_queue(
    stack: TerraformStack,
) -> None:
    tasks = RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=2)
    tasks.grant_publish("producer", user="p")
    tasks.grant_consume("worker_2", user="w2", worker=2)
    permissions = {p["user"]: p for p in resources(synth(stack), "rabbitmq_permissions")}
    assert permissions == {
        "p": {
            "user": "p",
            "vhost": "ml",
            "permissions": {"configure": "^$", "write": "^ml_tasks$", "read": "^$"},
        },
        "w2": {
            "user": "w2",
            "vhost": "ml",
            "permissions": {"configure": "^$", "write": "^$", "read": "^worker_queue_2$"},
        },
    }


@pytest.mark.parametrize("worker", [0, 3])
def test_grant_consume_names_an_existing_worker(stack: TerraformStack, worker: int) -> None:
    tasks = RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=2)
    with pytest.raises(LimitError) as error:
        tasks.grant_consume("w", user="w", worker=worker)
    assert str(error.value) == (
        f"environment 'test': RabbitMqTaskExchange.grant_consume worker = {worker} is not"
        " allowed; expected an integer from 1 to 2"
    )


def test_classic_queues_have_no_delivery_limit(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        RabbitMqTaskExchange(stack, "tasks", vhost="ml", queue_type="classic")
    assert str(error.value) == (
        "environment 'test': RabbitMqTaskExchange.delivery_limit = 20 is not allowed with"
        " classic queues; expected None (only quorum queues count deliveries)"
    )


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("delivery_limit", 0, "an integer >= 1"),
        ("delivery_limit", -1, "an integer >= 1"),
        ("message_ttl_seconds", 0, "an integer from 1 to 4294967"),
        ("max_length", 0, "an integer >= 1"),
        ("consumer_timeout_seconds", 2_147_484, "an integer from 1 to 2147483"),
        ("queue_type", "stream", "'quorum' or 'classic'"),
    ],
)
def test_rejects_values_the_broker_would_refuse(
    stack: TerraformStack, field: str, value: object, allowed: str
) -> None:
    arguments: dict[str, Any] = {"vhost": "ml", field: value}
    with pytest.raises(LimitError) as error:
        RabbitMqTaskExchange(stack, "tasks", **arguments)
    assert str(error.value) == (
        f"environment 'test': RabbitMqTaskExchange.{field} = {value!r} is not allowed;"
        f" expected {allowed}"
    )


def test_each_queue_is_bound_with_its_own_name_as_routing_key(stack: TerraformStack) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=4, dead_letter=False)
    synthesized = synth(stack)
    exchange_id = next(iter(synthesized["resource"]["rabbitmq_exchange"]))
    queue_ids = {
        body["name"]: queue_id
        for queue_id, body in synthesized["resource"]["rabbitmq_queue"].items()
    }
    bindings = resources(synthesized, "rabbitmq_binding")
    assert len(bindings) == 4
    for binding in bindings:
        queue_name = binding["routing_key"]
        assert binding == {
            "source": f"${{rabbitmq_exchange.{exchange_id}.name}}",
            "vhost": "ml",
            "destination": f"${{rabbitmq_queue.{queue_ids[queue_name]}.name}}",
            "destination_type": "queue",
            "routing_key": queue_name,
        }
    assert sorted(b["routing_key"] for b in bindings) == [f"worker_queue_{n}" for n in (1, 2, 3, 4)]


def test_exposes_exchange_queue_names_and_routing_keys_in_worker_order(
    stack: TerraformStack,
) -> None:
    tasks = RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=2)
    TerraformOutput(stack, "exchange", value=tasks.exchange_name)
    TerraformOutput(stack, "queues", value=tasks.worker_queue_names)
    outputs = synth(stack)["output"]
    assert outputs["exchange"]["value"].startswith("${rabbitmq_exchange.")
    queue_refs = outputs["queues"]["value"]
    assert len(queue_refs) == 2
    assert "worker_queue_1" in queue_refs[0] and "worker_queue_2" in queue_refs[1]
    assert tasks.routing_keys == ["worker_queue_1", "worker_queue_2"]


@pytest.mark.parametrize("workers", [0, -1])
def test_needs_at_least_one_worker(stack: TerraformStack, workers: int) -> None:
    with pytest.raises(LimitError) as error:
        RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=workers)
    assert str(error.value) == (
        f"environment 'test': RabbitMqTaskExchange.workers = {workers} is not allowed;"
        " expected an integer >= 1"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exchange_name", "amq.tasks"),
        ("exchange_name", ""),
        ("exchange_name", "x" * 256),
        ("vhost", ""),
    ],
)
def test_rejects_names_the_broker_would_refuse(
    stack: TerraformStack, field: str, value: str
) -> None:
    arguments: dict[str, Any] = {"vhost": "ml", field: value}
    with pytest.raises(LimitError, match=f"RabbitMqTaskExchange.{field} = "):
        RabbitMqTaskExchange(stack, "tasks", **arguments)


def test_queue_names_count_bytes_not_characters(stack: TerraformStack) -> None:
    with pytest.raises(LimitError, match="queue name"):
        RabbitMqTaskExchange(stack, "tasks", vhost="ml", queue_name_prefix="é" * 128, workers=1)
