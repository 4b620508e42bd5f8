"""The hand-written rabbitmq bindings against the provider's schema.

`tests/rabbitmq_provider_schema.json` is the schema of cyrilgdn/rabbitmq v1.10.1 in the
format of `terraform providers schema -json`, transcribed from the provider's Go source
(`rabbitmq/provider.go`, `rabbitmq/resource_*.go` at commit c196856).
"""

from __future__ import annotations

import inspect

import pytest
from cdktf import TerraformOutput, TerraformStack

from constructs_lib.rabbitmq import bindings as rmq
from tests.schema_check import rabbitmq_schema, resource_problems, schema_problems
from tests.synth_helpers import synth

SCHEMA = rabbitmq_schema()
META_ARGUMENTS = {"scope", "id_", "provider", "depends_on", "lifecycle"}


def _every_argument(stack: TerraformStack) -> dict[str, rmq._RabbitmqResource]:
    """One of each resource with every optional argument set, so nothing is left out."""
    vhost = rmq.Vhost(
        stack,
        "vhost",
        name="v",
        description="d",
        default_queue_type="quorum",
        tracing=False,
        max_connections="10",
        max_queues="20",
    )
    return {
        "rabbitmq_vhost": vhost,
        "rabbitmq_exchange": rmq.Exchange(
            stack,
            "exchange",
            name="e",
            vhost="v",
            settings=rmq.ExchangeSettings(
                type="direct",
                durable=True,
                auto_delete=False,
                arguments={"alternate-exchange": "x"},
            ),
        ),
        "rabbitmq_queue": rmq.Queue(
            stack,
            "queue",
            name="q",
            vhost="v",
            settings=rmq.QueueSettings(
                durable=True, auto_delete=False, arguments_json='{"x-queue-type": "quorum"}'
            ),
        ),
        "rabbitmq_binding": rmq.Binding(
            stack,
            "binding",
            source="e",
            vhost="v",
            destination="q",
            destination_type="queue",
            routing_key="q",
            arguments={"k": "v"},
        ),
        "rabbitmq_user": rmq.User(
            stack, "user", name="u", password="${var.p}", tags=["management"]
        ),
        "rabbitmq_permissions": rmq.Permissions(
            stack,
            "permissions",
            user="u",
            vhost="v",
            permissions=rmq.PermissionsPermissions(configure="^$", write="^e$", read="^$"),
        ),
        "rabbitmq_policy": rmq.Policy(
            stack,
            "policy",
            name="p",
            vhost="v",
            policy=rmq.PolicyPolicy(
                pattern="^q$", priority=1, apply_to="queues", definition={"delivery-limit": "5"}
            ),
        ),
    }


def test_every_resource_synthesizes_to_its_schema(stack: TerraformStack) -> None:
    built = _every_argument(stack)
    synthesized = synth(stack)["resource"]
    assert set(synthesized) == set(built) == set(SCHEMA["resource_schemas"])
    for resource_type, bodies in synthesized.items():
        block = SCHEMA["resource_schemas"][resource_type]["block"]
        for body in bodies.values():
            assert resource_problems(body, block, resource_type) == []


@pytest.mark.parametrize("resource_type", sorted(SCHEMA["resource_schemas"]))
def test_constructor_takes_exactly_the_schema_arguments(resource_type: str) -> None:
    classes = {cls.TF_RESOURCE_TYPE: cls for cls in rmq._RabbitmqResource.__subclasses__()}
    parameters = set(inspect.signature(classes[resource_type].__init__).parameters) - {"self"}
    block = SCHEMA["resource_schemas"][resource_type]["block"]
    settable = {
        name
        for name, spec in block["attributes"].items()
        if name != "id" and (spec.get("required") or spec.get("optional"))
    } | set(block.get("block_types", {}))
    assert parameters - META_ARGUMENTS == settable


def test_provider_takes_exactly_the_schema_arguments_and_leaves_out_what_is_unset(
    stack: TerraformStack,
) -> None:
    parameters = set(inspect.signature(rmq.RabbitmqProvider.__init__).parameters)
    assert parameters - {"self", "scope", "id", "alias"} == set(
        SCHEMA["provider"]["block"]["attributes"]
    )
    rmq.RabbitmqProvider(stack, "rabbitmq", endpoint="http://127.0.0.1:15672")
    synthesized = synth(stack)
    # endpoint, username and password are required but default to RABBITMQ_* variables.
    assert synthesized["provider"]["rabbitmq"] == [{"endpoint": "http://127.0.0.1:15672"}]
    assert synthesized["terraform"]["required_providers"]["rabbitmq"] == {
        "source": "cyrilgdn/rabbitmq",
        "version": "1.10.1",
    }


def test_attributes_are_references_for_terraform(stack: TerraformStack) -> None:
    built = _every_argument(stack)
    TerraformOutput(stack, "vhost_id", value=built["rabbitmq_vhost"].id)
    binding = built["rabbitmq_binding"]
    assert isinstance(binding, rmq.Binding)
    TerraformOutput(stack, "key", value=binding.properties_key)
    outputs = synth(stack)["output"]
    assert outputs["vhost_id"]["value"] == "${rabbitmq_vhost.vhost.id}"
    assert outputs["key"]["value"] == "${rabbitmq_binding.binding.properties_key}"


def test_arguments_and_arguments_json_exclude_each_other(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match="either arguments or arguments_json"):
        rmq.QueueSettings(arguments={"a": "b"}, arguments_json="{}")
    with pytest.raises(ValueError, match="either arguments or arguments_json"):
        rmq.Binding(
            stack,
            "b",
            source="e",
            vhost="v",
            destination="q",
            destination_type="queue",
            arguments={"a": "b"},
            arguments_json="{}",
        )


def test_the_schema_check_catches_what_terraform_would_reject() -> None:
    block = SCHEMA["resource_schemas"]["rabbitmq_queue"]["block"]
    body = {"nmae": "q", "settings": {"durable": "yes", "arguments": {"x": 1}}}
    assert schema_problems(body, block, "q") == [
        "q: unknown argument 'nmae'",
        "q: required argument 'name' is missing",
        "q.settings: arguments = {'x': 1} is not of type ['map', 'string']",
        "q.settings: durable = 'yes' is not of type bool",
    ]


def test_the_schema_check_allows_terraform_meta_arguments_and_checks_lifecycle() -> None:
    block = SCHEMA["resource_schemas"]["rabbitmq_vhost"]["block"]
    body = {"name": "v", "depends_on": ["x"], "lifecycle": {"prevent_destroy": True}}
    assert resource_problems(body, block, "v") == []
    body["lifecycle"] = {"prevent_destroyed": True}
    assert resource_problems(body, block, "v") == [
        "v: unknown lifecycle argument 'prevent_destroyed'"
    ]
    assert schema_problems({"name": "v", "depends_on": ["x"]}, block, "v") == [
        "v: unknown argument 'depends_on'"
    ]
