"""`replaced_with` writes addresses Terraform takes in `replace_triggered_by`."""

from __future__ import annotations

from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.rabbitmq.bindings import Binding, Queue, QueueSettings
from constructs_lib.replacement import replaced_with
from tests.constructs_lib.lifecycle_helpers import triggers
from tests.synth_helpers import resources, synth


def queue(scope: Construct, id: str) -> Queue:
    return Queue(scope, id, name=id, vhost="ml", settings=QueueSettings(durable=True))


def bind(scope: Construct, *to: Queue) -> None:
    Binding(
        scope,
        "binding",
        source="ml_tasks",
        vhost="ml",
        destination="q",
        destination_type="queue",
        lifecycle=replaced_with(*to),
    )


def test_each_resource_is_named_bare_in_the_order_given(stack: TerraformStack) -> None:
    """Terraform refuses `${...}` in replace_triggered_by; the order is the caller's. Each
    names the resource's `id`, not the resource, which an update in place would trigger too."""
    second, first = queue(stack, "second"), queue(stack, "first")
    bind(stack, second, first)
    [binding] = resources(synth(stack), Binding.TF_RESOURCE_TYPE)
    assert binding["lifecycle"] == {
        "replace_triggered_by": ["rabbitmq_queue.second.id", "rabbitmq_queue.first.id"]
    }


def test_a_nested_resource_is_named_by_the_logical_id_it_is_synthesized_under(
    stack: TerraformStack,
) -> None:
    """Inside a construct the logical id is a path with a hash, not the construct id."""
    scope = Construct(stack, "tasks")
    bind(scope, queue(scope, "worker_queue_1"))
    synthesized = synth(stack)
    [binding] = resources(synthesized, Binding.TF_RESOURCE_TYPE)
    [(resource_type, logical_id)] = triggers(binding)
    assert resource_type == Queue.TF_RESOURCE_TYPE
    assert logical_id != "worker_queue_1"
    assert synthesized["resource"][resource_type][logical_id]["name"] == "worker_queue_1"
