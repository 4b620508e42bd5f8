from __future__ import annotations

from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack

from constructs_lib.limits import LimitError
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange
from tests.synth_helpers import resources, synth


def test_seed_topology_durable_direct_exchange_and_three_worker_queues(
    stack: TerraformStack,
) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml")
    synthesized = synth(stack)
    assert resources(synthesized, "rabbitmq_exchange") == [
        {"name": "ml_tasks", "vhost": "ml", "settings": {"type": "direct", "durable": True}}
    ]
    assert resources(synthesized, "rabbitmq_queue") == [
        {"name": f"worker_queue_{n}", "vhost": "ml", "settings": {"durable": True}}
        for n in (1, 2, 3)
    ]


def test_each_queue_is_bound_with_its_own_name_as_routing_key(stack: TerraformStack) -> None:
    RabbitMqTaskExchange(stack, "tasks", vhost="ml", workers=4)
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
