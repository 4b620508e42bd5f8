from __future__ import annotations

import re
from typing import Any

import pytest
from cdktf import Aspects, TerraformOutput, TerraformStack

from constructs_lib import limits
from constructs_lib.aspects import PreventDestroy
from constructs_lib.limits import LimitError
from constructs_lib.rabbitmq.bindings import Permissions
from constructs_lib.rabbitmq.exchange import RabbitMqTaskExchange
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from tests.constructs_lib.lifecycle_helpers import name_of, target, triggers
from tests.synth_helpers import resources, synth

QUORUM = {"durable": True, "arguments": {"x-queue-type": "quorum"}}
CLASSIC = {"durable": True}
NAME_RULE = "1 to 255 bytes of UTF-8 without control characters, not starting with 'amq.'"
WORKER_POLICY = "ml_tasks-workers"
EXCHANGE_POLICY = "ml_tasks-exchange"
KEPT_POLICY = "ml_tasks-kept"
# Above the priorities an operator's own policies are likely to have (see the construct).
PRIORITY = 1000
# Everything names the vhost that the exchange made for itself, by reference.
VHOST = "${rabbitmq_vhost.tasks_vhost_F944184F.name}"


def exchange(stack: TerraformStack, **settings: Any) -> RabbitMqTaskExchange:
    props = RabbitMqTaskExchangeProps(**{"vhost": "ml", **settings})
    return RabbitMqTaskExchange(stack, "tasks", props)


def named(synthesized: dict[str, Any], reference: str) -> tuple[str, str]:
    """The type and name of the resource a `${type.id.name}` reference reaches: logical ids
    are hashed, so a test compares what a reference points to, not its text."""
    match = re.fullmatch(r"\$\{(\w+)\.(\w+)\.name\}", reference)
    assert match is not None, reference
    resource_type, logical_id = match.groups()
    return resource_type, synthesized["resource"][resource_type][logical_id]["name"]


def policies(synthesized: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The policies by name: the worker queues' and the task exchange's, always, and the
    kept queues' with quorum queues."""
    by_name = {body["name"]: body for body in resources(synthesized, "rabbitmq_policy")}
    quorum = any(q["settings"] == QUORUM for q in resources(synthesized, "rabbitmq_queue"))
    kept = {KEPT_POLICY} if quorum else set()
    assert set(by_name) == {WORKER_POLICY, EXCHANGE_POLICY, *kept}
    return by_name


def worker_definition(synthesized: dict[str, Any]) -> dict[str, str]:
    definition: dict[str, str] = policies(synthesized)[WORKER_POLICY]["policy"]["definition"]
    return definition


def test_seed_topology_durable_direct_exchange_and_three_quorum_worker_queues(
    stack: TerraformStack,
) -> None:
    exchange(stack)
    synthesized = synth(stack)
    exchanges = {e["name"]: e for e in resources(synthesized, "rabbitmq_exchange")}
    assert exchanges["ml_tasks"] == {
        "name": "ml_tasks",
        "vhost": VHOST,
        "settings": {"type": "direct", "durable": True},
    }
    # Besides the task exchange, only the two that keep what no worker takes.
    assert sorted(exchanges) == ["ml_tasks", "ml_tasks.dead_letter", "ml_tasks.unroutable"]
    queues = {q["name"]: q for q in resources(synthesized, "rabbitmq_queue")}
    for n in (1, 2, 3):
        assert queues[f"worker_queue_{n}"] == {
            "name": f"worker_queue_{n}",
            "vhost": VHOST,
            "settings": QUORUM,
        }
    assert sorted(queues) == [
        "ml_tasks.dead_letter",
        "ml_tasks.unroutable",
        *(f"worker_queue_{n}" for n in (1, 2, 3)),
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"queue_type": "classic"},
        {"queue_type": "classic", "dead_letter": False},
        {"delivery_limit": 3, "max_length": 10, "message_ttl_seconds": 60},
        {"queue_type": "classic", "max_length": 10},
    ],
)
def test_a_full_worker_queue_always_refuses_new_tasks_and_never_drops_its_oldest(
    stack: TerraformStack, settings: dict[str, Any]
) -> None:
    """The broker's default overflow is drop-head, which would lose the oldest task silently:
    the worker policy exists whatever the settings, to say reject-publish."""
    tasks = exchange(stack, **settings)
    TerraformOutput(stack, "policy", value=tasks.policy_name)
    synthesized = synth(stack)
    assert worker_definition(synthesized)["overflow"] == "reject-publish"
    assert named(synthesized, synthesized["output"]["policy"]["value"]) == (
        "rabbitmq_policy",
        WORKER_POLICY,
    )


def test_without_dead_letters_the_worker_policy_holds_the_overflow_alone(
    stack: TerraformStack,
) -> None:
    exchange(stack, queue_type="classic", dead_letter=False)
    assert worker_definition(synth(stack)) == {"overflow": "reject-publish"}


def test_classic_queues_are_durable_without_a_type_argument(stack: TerraformStack) -> None:
    exchange(stack, queue_type="classic")
    synthesized = synth(stack)
    assert {q["name"]: q["settings"] for q in resources(synthesized, "rabbitmq_queue")} == {
        name: CLASSIC
        for name in (
            "ml_tasks.dead_letter",
            "ml_tasks.unroutable",
            "worker_queue_1",
            "worker_queue_2",
            "worker_queue_3",
        )
    }
    # Classic queues dead-letter rejected and expired tasks, at most once.
    assert worker_definition(synthesized) == {
        "overflow": "reject-publish",
        "dead-letter-exchange": "ml_tasks.dead_letter",
    }


def test_dead_letters_go_through_a_fanout_exchange_to_a_queue_of_the_same_type(
    stack: TerraformStack,
) -> None:
    tasks = exchange(stack)
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
    assert named(synthesized, binding["source"]) == ("rabbitmq_exchange", "ml_tasks.dead_letter")
    assert named(synthesized, binding["destination"]) == ("rabbitmq_queue", "ml_tasks.dead_letter")
    assert named(synthesized, synthesized["output"]["dlq"]["value"]) == (
        "rabbitmq_queue",
        "ml_tasks.dead_letter",
    )


def test_no_dead_letter_queue_name_without_dead_lettering(stack: TerraformStack) -> None:
    tasks = exchange(stack, queue_type="classic", dead_letter=False)
    assert tasks.dead_letter_queue_name is None
    synthesized = synth(stack)
    for resource_type in ("rabbitmq_exchange", "rabbitmq_queue"):
        names = [body["name"] for body in resources(synthesized, resource_type)]
        assert "ml_tasks.dead_letter" not in names, resource_type


def test_mutable_settings_live_in_one_policy_that_matches_only_worker_queues(
    stack: TerraformStack,
) -> None:
    tasks = exchange(
        stack,
        delivery_limit=7,
        message_ttl_seconds=3600,
        max_length=10_000,
        consumer_timeout_seconds=7200,
    )
    TerraformOutput(stack, "policy", value=tasks.policy_name)
    policy = policies(synthesized := synth(stack))[WORKER_POLICY]
    assert policy == {
        "name": "ml_tasks-workers",
        "vhost": VHOST,
        "policy": {
            "pattern": "^worker_queue_[0-9]+$",
            "priority": PRIORITY,
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
    # Never a kept queue: a dead-letter queue that dead-lettered into itself would cycle.
    pattern = re.compile(policy["policy"]["pattern"])
    names = [q["name"] for q in resources(synthesized, "rabbitmq_queue")]
    assert {"ml_tasks.dead_letter", "ml_tasks.unroutable"} <= set(names)
    assert [n for n in names if pattern.search(n)] == [f"worker_queue_{n}" for n in (1, 2, 3)]
    assert named(synthesized, synthesized["output"]["policy"]["value"]) == (
        "rabbitmq_policy",
        "ml_tasks-workers",
    )


def test_the_delivery_limit_is_set_explicitly_by_default(stack: TerraformStack) -> None:
    exchange(stack)
    assert worker_definition(synth(stack))["delivery-limit"] == "20"


@pytest.mark.parametrize(
    ("settings", "limit"),
    [
        ({}, 20),
        ({"delivery_limit": 7}, 7),
        ({"queue_type": "classic"}, None),
    ],
)
def test_the_effective_delivery_limit_counts_on_quorum_queues_only(
    settings: dict[str, Any], limit: int | None
) -> None:
    assert RabbitMqTaskExchangeProps(vhost="ml", **settings).effective_delivery_limit == limit


@pytest.mark.parametrize(
    ("version", "queue_type", "written"),
    [
        ("3.9", "classic", False),
        ("3.11.28", "quorum", False),
        ("3.12", "quorum", True),
        ("3.12.0", "classic", True),
        ("3.13", "quorum", True),
        ("4.0", "quorum", True),
        ("4.2", "classic", True),
        # From 4.3 only quorum queues have a consumer timeout.
        ("4.3", "classic", False),
        ("4.3.0", "quorum", True),
        ("5.0", "classic", False),
    ],
)
def test_the_consumer_timeout_is_written_only_where_the_broker_applies_it(
    stack: TerraformStack, version: str, queue_type: str, written: bool
) -> None:
    """Versions compare as numbers: as text, '3.9' would sort after '3.12'."""
    props = RabbitMqTaskExchangeProps(
        vhost="ml", consumer_timeout_seconds=7200, min_broker_version=version, queue_type=queue_type
    )
    assert props.consumer_timeout_policy is written
    RabbitMqTaskExchange(stack, "tasks", props)
    definition = worker_definition(synth(stack))
    assert definition.get("consumer-timeout") == ("7200000" if written else None)


@pytest.mark.parametrize(
    ("seconds", "written"),
    [(1, "60000"), (30, "60000"), (59, "60000"), (60, "60000"), (61, "61000")],
)
def test_a_consumer_timeout_under_a_minute_writes_a_minute(
    stack: TerraformStack, seconds: int, written: str
) -> None:
    """RabbitMQ evaluates the timeout once a minute and does not support less, yet accepts
    the key: the environment's task duration (30 s by default, right for SQS) would reach
    it unsupported. A minute is the nearest the broker honours."""
    exchange(stack, consumer_timeout_seconds=seconds)
    assert worker_definition(synth(stack))["consumer-timeout"] == written


@pytest.mark.parametrize(
    "settings",
    [
        {"consumer_timeout_seconds": 30, "min_broker_version": "3.11"},
        {"consumer_timeout_seconds": 30, "min_broker_version": "4.3", "queue_type": "classic"},
    ],
)
def test_no_consumer_timeout_reaches_a_broker_that_would_not_apply_it(
    stack: TerraformStack, settings: dict[str, Any]
) -> None:
    """Brokers before 3.12 refuse the key; from 4.3 classic queues ignore it."""
    exchange(stack, **settings)
    assert "consumer-timeout" not in worker_definition(synth(stack))


def test_quorum_queues_need_a_broker_with_at_least_once_dead_lettering(
    stack: TerraformStack,
) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, min_broker_version="3.9")
    assert str(error.value) == (
        "test/tasks: RabbitMqTaskExchange.min_broker_version = '3.9' is not allowed;"
        " expected 3.10 or newer with queue_type = 'quorum': at-least-once dead-lettering,"
        " which keeps a dead letter until the dead-letter queue has it, needs it"
    )


@pytest.mark.parametrize(
    ("version", "limit"),
    [("4.0", "-1"), ("4.3.1", "-1"), ("3.13", "2147483647"), ("3.10.8", "2147483647")],
)
def test_the_kept_queues_have_a_policy_of_their_own_with_no_reachable_delivery_limit(
    stack: TerraformStack, version: str, limit: str
) -> None:
    """Without it, 4.x gives them its default limit of 20 and, having no dead-letter
    exchange, they drop a task an operator returned 20 times. -1 (none) is refused before
    4.0, which had no default limit: there, the largest 32-bit limit."""
    exchange(stack, min_broker_version=version)
    synthesized = synth(stack)
    assert policies(synthesized)[KEPT_POLICY] == {
        "name": KEPT_POLICY,
        "vhost": VHOST,
        "policy": {
            "pattern": r"^(ml_tasks\.dead_letter|ml_tasks\.unroutable)$",
            "priority": PRIORITY,
            "apply_to": "queues",
            "definition": {"delivery-limit": limit},
        },
    }
    pattern = re.compile(policies(synthesized)[KEPT_POLICY]["policy"]["pattern"])
    names = [q["name"] for q in resources(synthesized, "rabbitmq_queue")]
    assert [n for n in names if pattern.search(n)] == [
        "ml_tasks.dead_letter",
        "ml_tasks.unroutable",
    ]
    assert not pattern.search("ml_tasksxdead_letter")


def test_classic_kept_queues_need_no_policy_of_their_own(stack: TerraformStack) -> None:
    """Classic queues count no deliveries, so nothing there limits returns."""
    exchange(stack, queue_type="classic")
    assert KEPT_POLICY not in policies(synth(stack))


def test_every_policy_has_the_project_s_priority(stack: TerraformStack) -> None:
    """One policy applies to a name, the one of highest priority: an operator's policy at
    or above the broker's examples (up to 123) must not replace dead-lettering."""
    exchange(stack)
    assert {body["policy"]["priority"] for body in policies(synth(stack)).values()} == {PRIORITY}


def test_the_construct_protects_nothing_itself(stack: TerraformStack) -> None:
    """Protection is the aspect's job alone, so one rule covers every construct; the only
    lifecycle here replaces a binding with its queue and its exchange."""
    exchange(stack)
    for resource_type, bodies in synth(stack)["resource"].items():
        for body in bodies.values():
            if resource_type == "rabbitmq_binding":
                assert triggers(body) == [target(body["destination"]), target(body["source"])]
            else:
                assert "lifecycle" not in body, resource_type


def test_prevent_destroy_protects_the_vhost_exchanges_and_queues_only(
    stack: TerraformStack,
) -> None:
    tasks = exchange(stack)
    tasks.grant_publish("p")
    tasks.grant_consume("w1", 1)
    Aspects.of(stack).add(PreventDestroy())
    synthesized = synth(stack)
    assert set(synthesized["resource"]) == {
        "rabbitmq_vhost",
        "rabbitmq_exchange",
        "rabbitmq_queue",
        "rabbitmq_binding",
        "rabbitmq_policy",
        "rabbitmq_permissions",
    }
    for resource_type, bodies in synthesized["resource"].items():
        for body in bodies.values():
            if resource_type in ("rabbitmq_vhost", "rabbitmq_exchange", "rabbitmq_queue"):
                assert body["lifecycle"] == {"prevent_destroy": True}
            elif resource_type == "rabbitmq_binding":
                # Not protected, and still replaced with its queue and its exchange.
                assert triggers(body) == [target(body["destination"]), target(body["source"])]
            else:
                assert "lifecycle" not in body, resource_type


def test_grants_give_the_producer_the_exchange_and_each_worker_its_own_queue(
    stack: TerraformStack,
) -> None:
    tasks = exchange(stack, workers=2)
    tasks.grant_publish("p")
    tasks.grant_consume("w2", 2)
    permissions = {p["user"]: p for p in resources(synth(stack), "rabbitmq_permissions")}
    assert permissions == {
        "p": {
            "user": "p",
            "vhost": VHOST,
            "permissions": {"configure": "^$", "write": "^ml_tasks$", "read": "^$"},
        },
        "w2": {
            "user": "w2",
            "vhost": VHOST,
            "permissions": {"configure": "^$", "write": "^$", "read": "^worker_queue_2$"},
        },
    }


def test_grants_have_ids_that_name_the_producer_and_the_worker(stack: TerraformStack) -> None:
    """Resource addresses derive from these ids: another id would replace the grant."""
    tasks = exchange(stack, workers=2)
    tasks.grant_publish("p")
    tasks.grant_consume("w2", 2)
    assert {child.node.id for child in tasks.node.children if isinstance(child, Permissions)} == {
        "rabbitmq_producer_permissions",
        "rabbitmq_worker_2_permissions",
    }
    users = {
        body["user"]: logical_id
        for logical_id, body in synth(stack)["resource"]["rabbitmq_permissions"].items()
    }
    assert "_rabbitmq_producer_permissions_" in users["p"]
    assert "_rabbitmq_worker_2_permissions_" in users["w2"]


def test_grant_names_are_escaped_in_the_permission_regexes(stack: TerraformStack) -> None:
    """A dot in a name would otherwise let the user reach names that differ there."""
    tasks = exchange(stack, workers=1, exchange_name="ml.tasks", queue_name_prefix="q.")
    tasks.grant_publish("p")
    tasks.grant_consume("w1", 1)
    permissions = {
        p["user"]: p["permissions"] for p in resources(synth(stack), "rabbitmq_permissions")
    }
    assert permissions["p"]["write"] == r"^ml\.tasks$"
    assert permissions["w1"]["read"] == r"^q\.1$"


@pytest.mark.parametrize("worker", [0, 3])
def test_grant_consume_names_an_existing_worker(stack: TerraformStack, worker: int) -> None:
    tasks = exchange(stack, workers=2)
    with pytest.raises(LimitError) as error:
        tasks.grant_consume("w", worker)
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.grant_consume worker = {worker} is not"
        " allowed; expected an integer from 1 to 2"
    )
    assert "rabbitmq_permissions" not in synth(stack)["resource"]
    assert "rabbitmq_worker_users" not in [output.id for output in tasks.outputs()]


@pytest.mark.parametrize("worker", [0, 3])
def test_worker_wiring_names_an_existing_worker(stack: TerraformStack, worker: int) -> None:
    tasks = exchange(stack, workers=2)
    with pytest.raises(LimitError) as error:
        tasks.worker_wiring(worker)
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.worker_wiring worker = {worker} is not"
        " allowed; expected an integer from 1 to 2"
    )


def test_wiring_names_the_vhost_exchange_and_address_of_each_side(stack: TerraformStack) -> None:
    tasks = exchange(stack, workers=2)
    producer = tasks.producer_wiring()
    worker = tasks.worker_wiring(2)
    TerraformOutput(stack, "producer_exchange", value=producer.exchange)
    TerraformOutput(stack, "worker_exchange", value=worker.exchange)
    TerraformOutput(stack, "worker_queue", value=worker.queue)
    TerraformOutput(stack, "vhosts", value=[producer.vhost, worker.vhost])
    outputs = (synthesized := synth(stack))["output"]
    assert outputs["vhosts"]["value"] == [VHOST, VHOST]
    assert producer.routing_keys == ["worker_queue_1", "worker_queue_2"]
    for side in ("producer", "worker"):
        assert named(synthesized, outputs[f"{side}_exchange"]["value"]) == (
            "rabbitmq_exchange",
            "ml_tasks",
        )
    assert named(synthesized, outputs["worker_queue"]["value"]) == (
        "rabbitmq_queue",
        "worker_queue_2",
    )


def test_wiring_names_the_user_that_was_granted_and_none_before(stack: TerraformStack) -> None:
    tasks = exchange(stack, workers=2)
    assert tasks.producer_wiring().user is None
    assert tasks.worker_wiring(2).user is None
    tasks.grant_publish("p")
    tasks.grant_consume("w2", 2)
    assert tasks.producer_wiring().user == "p"
    assert tasks.worker_wiring(2).user == "w2"
    assert tasks.worker_wiring(1).user is None


@pytest.mark.parametrize(
    ("settings", "ids"),
    [
        (
            {},
            [
                "rabbitmq_vhost",
                "exchange_name",
                "worker_queue_names",
                "rabbitmq_dead_letter_queue",
                "rabbitmq_unroutable_queue",
            ],
        ),
        (
            {"queue_type": "classic", "dead_letter": False},
            ["rabbitmq_vhost", "exchange_name", "worker_queue_names", "rabbitmq_unroutable_queue"],
        ),
    ],
)
def test_outputs_name_users_only_once_they_are_granted(
    stack: TerraformStack, settings: dict[str, Any], ids: list[str]
) -> None:
    tasks = exchange(stack, **settings)
    assert [output.id for output in tasks.outputs()] == ids
    tasks.grant_publish("p")
    assert [output.id for output in tasks.outputs()] == [*ids, "rabbitmq_producer_user"]
    tasks.grant_consume("w1", 1)
    assert [output.id for output in tasks.outputs()] == [
        *ids,
        "rabbitmq_producer_user",
        "rabbitmq_worker_users",
    ]


def test_outputs_reach_the_resources_and_list_worker_users_in_worker_order(
    stack: TerraformStack,
) -> None:
    tasks = exchange(stack, workers=2)
    tasks.grant_consume("w2", 2)
    tasks.grant_consume("w1", 1)
    tasks.grant_publish("p")
    channel_outputs = tasks.outputs()
    for output in channel_outputs:
        TerraformOutput(stack, output.id, value=output.value, description=output.description)
    synthesized = synth(stack)
    values = {id: body["value"] for id, body in synthesized["output"].items()}
    assert values["rabbitmq_vhost"] == VHOST
    assert named(synthesized, values["exchange_name"]) == ("rabbitmq_exchange", "ml_tasks")
    assert [named(synthesized, value) for value in values["worker_queue_names"]] == [
        ("rabbitmq_queue", "worker_queue_1"),
        ("rabbitmq_queue", "worker_queue_2"),
    ]
    assert named(synthesized, values["rabbitmq_dead_letter_queue"]) == (
        "rabbitmq_queue",
        "ml_tasks.dead_letter",
    )
    assert named(synthesized, values["rabbitmq_unroutable_queue"]) == (
        "rabbitmq_queue",
        "ml_tasks.unroutable",
    )
    assert values["rabbitmq_producer_user"] == "p"
    assert values["rabbitmq_worker_users"] == ["w1", "w2"]
    descriptions = [output.description for output in channel_outputs]
    assert all(descriptions) and len(set(descriptions)) == len(descriptions)
    assert {id: body["description"] for id, body in synthesized["output"].items()} == {
        output.id: output.description for output in channel_outputs
    }


def test_classic_queues_have_no_delivery_limit(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, queue_type="classic", delivery_limit=20)
    assert str(error.value) == (
        "test/tasks: RabbitMqTaskExchange.delivery_limit = 20 is not allowed; expected"
        " it unset with queue_type = 'classic': classic queues do not count deliveries"
    )


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("delivery_limit", 0, "an integer >= 1"),
        ("delivery_limit", -1, "an integer >= 1"),
        ("message_ttl_seconds", 0, "an integer from 1 to 4294967"),
        ("message_ttl_seconds", 4_294_968, "an integer from 1 to 4294967"),
        ("max_length", 0, "an integer >= 1"),
        ("consumer_timeout_seconds", 0, "an integer from 1 to 2147483"),
        ("consumer_timeout_seconds", -5, "an integer from 1 to 2147483"),
        ("consumer_timeout_seconds", 2_147_484, "an integer from 1 to 2147483"),
        ("queue_type", "stream", "'quorum' or 'classic'"),
        ("min_broker_version", "3", "a RabbitMQ version such as '3.13' or '3.10.8'"),
        ("min_broker_version", "latest", "a RabbitMQ version such as '3.13' or '3.10.8'"),
        (
            "endpoint",
            "https://admin:secret@rabbitmq.example.com:15672",
            "an http(s) URL of the RabbitMQ management API without credentials, such as"
            " 'https://rabbitmq.example.com:15672'",
        ),
    ],
)
def test_rejects_values_the_broker_would_refuse(
    stack: TerraformStack, field: str, value: object, allowed: str
) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, **{field: value})
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.{field} = {value!r} is not allowed; expected {allowed}"
    )


def test_each_queue_is_bound_with_its_own_name_as_routing_key(stack: TerraformStack) -> None:
    exchange(stack, workers=4)
    synthesized = synth(stack)
    [exchange_id] = [
        exchange_id
        for exchange_id, body in synthesized["resource"]["rabbitmq_exchange"].items()
        if body["name"] == "ml_tasks"
    ]
    queue_ids = {
        body["name"]: queue_id
        for queue_id, body in synthesized["resource"]["rabbitmq_queue"].items()
    }
    source = f"${{rabbitmq_exchange.{exchange_id}.name}}"
    bindings = [b for b in resources(synthesized, "rabbitmq_binding") if b["source"] == source]
    assert len(bindings) == 4
    for binding in bindings:
        queue_name = binding["routing_key"]
        assert binding == {
            "source": source,
            "vhost": VHOST,
            "destination": f"${{rabbitmq_queue.{queue_ids[queue_name]}.name}}",
            "destination_type": "queue",
            "routing_key": queue_name,
            "lifecycle": {
                "replace_triggered_by": [
                    f"rabbitmq_queue.{queue_ids[queue_name]}.id",
                    f"rabbitmq_exchange.{exchange_id}.id",
                ]
            },
        }
    assert sorted(b["routing_key"] for b in bindings) == [f"worker_queue_{n}" for n in (1, 2, 3, 4)]


def test_exposes_exchange_queue_names_and_worker_addresses_in_worker_order(
    stack: TerraformStack,
) -> None:
    tasks = exchange(stack, workers=2)
    TerraformOutput(stack, "exchange", value=tasks.exchange_name)
    TerraformOutput(stack, "queues", value=tasks.worker_queue_names)
    outputs = (synthesized := synth(stack))["output"]
    assert named(synthesized, outputs["exchange"]["value"]) == ("rabbitmq_exchange", "ml_tasks")
    assert [named(synthesized, ref) for ref in outputs["queues"]["value"]] == [
        ("rabbitmq_queue", "worker_queue_1"),
        ("rabbitmq_queue", "worker_queue_2"),
    ]
    assert tasks.worker_addresses == ["worker_queue_1", "worker_queue_2"]
    # A direct exchange addresses every task to one worker: there is no shared address.
    assert tasks.shared_address is None


@pytest.mark.parametrize("workers", [0, -1, 1001])
def test_needs_at_least_one_worker_and_at_most_the_design_s_reach(
    stack: TerraformStack, workers: int
) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, workers=workers)
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.workers = {workers} is not allowed;"
        f" expected {limits.WORKER_COUNT.describe_for(workers)}"
    )


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("exchange_name", "amq.tasks", NAME_RULE),
        ("exchange_name", "", NAME_RULE),
        ("exchange_name", "x" * 256, NAME_RULE),
        ("exchange_name", "ml\ttasks", NAME_RULE),
        ("vhost", "", "1 to 255 bytes of UTF-8 without control characters"),
    ],
)
def test_rejects_names_the_broker_would_refuse(
    stack: TerraformStack, field: str, value: str, allowed: str
) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, **{field: value})
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.{field} = {value!r} is not allowed; expected {allowed}"
    )


def test_queue_names_count_bytes_not_characters(stack: TerraformStack) -> None:
    """129 characters, but 257 bytes: a character count would let the broker refuse it."""
    prefix = "é" * 128
    with pytest.raises(LimitError) as error:
        exchange(stack, queue_name_prefix=prefix, workers=1)
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.queue_name_prefix = {prefix!r} is not"
        f" allowed; expected a prefix that makes {prefix + '1'!r} {NAME_RULE}"
    )


def test_a_queue_name_of_exactly_255_bytes_is_allowed(stack: TerraformStack) -> None:
    exchange(stack, queue_name_prefix="é" * 127, workers=1)
    [queue] = [q for q in resources(synth(stack), "rabbitmq_queue") if q["name"].startswith("é")]
    assert queue["name"] == "é" * 127 + "1"
    assert len(queue["name"].encode()) == 255


def test_queue_names_may_not_take_the_brokers_prefix(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, queue_name_prefix="amq.worker_", workers=1)
    assert str(error.value) == (
        "test/tasks: RabbitMqTaskExchange.queue_name_prefix = 'amq.worker_' is not"
        f" allowed; expected a prefix that makes 'amq.worker_1' {NAME_RULE}"
    )


@pytest.mark.parametrize(
    ("length", "settings", "too_long"),
    [
        # `.dead_letter` is a byte longer than `.unroutable`: at 244 only it is too long.
        (244, {}, ".dead_letter"),
        (245, {"queue_type": "classic", "dead_letter": False}, ".unroutable"),
        (245, {}, ".unroutable"),
    ],
)
def test_the_kept_queues_names_must_fit_too(
    stack: TerraformStack, length: int, settings: dict[str, Any], too_long: str
) -> None:
    """The exchange name fits, but a name made from it would not; the error names that one."""
    name = "x" * length
    with pytest.raises(LimitError) as error:
        exchange(stack, exchange_name=name, **settings)
    assert str(error.value) == (
        f"test/tasks: RabbitMqTaskExchange.exchange_name = {name!r} is not allowed;"
        f" expected an exchange name that makes {name + too_long!r} {NAME_RULE}"
    )


@pytest.mark.parametrize(
    ("length", "settings"),
    [(243, {}), (244, {"queue_type": "classic", "dead_letter": False})],
)
def test_kept_queue_names_of_exactly_255_bytes_are_allowed(
    stack: TerraformStack, length: int, settings: dict[str, Any]
) -> None:
    name = "x" * length
    exchange(stack, exchange_name=name, **settings)
    kept = [
        q["name"] for q in resources(synth(stack), "rabbitmq_queue") if q["name"].startswith(name)
    ]
    assert kept
    assert max(len(queue.encode()) for queue in kept) == 255


def test_a_quorum_queue_must_dead_letter(stack: TerraformStack) -> None:
    """At the delivery limit a quorum queue drops a task that has nowhere to go."""
    with pytest.raises(LimitError) as error:
        exchange(stack, dead_letter=False)
    assert str(error.value) == (
        "test/tasks: RabbitMqTaskExchange.dead_letter = false is not allowed; expected"
        " true with queue_type = 'quorum': at the delivery limit a quorum queue drops a task"
        " that has no dead-letter exchange to go to"
    )


def test_a_quorum_queue_without_dead_letters_is_refused_first_for_dead_letter(
    stack: TerraformStack,
) -> None:
    """Both rules are broken; the one named is the one whose fix (dead_letter = true) also
    mends the other."""
    with pytest.raises(LimitError) as error:
        exchange(stack, dead_letter=False, message_ttl_seconds=60)
    assert str(error.value).startswith(
        "test/tasks: RabbitMqTaskExchange.dead_letter = false is not allowed;"
    )


def test_tasks_may_expire_only_into_a_dead_letter_queue(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        exchange(stack, queue_type="classic", dead_letter=False, message_ttl_seconds=60)
    assert str(error.value) == (
        "test/tasks: RabbitMqTaskExchange.message_ttl_seconds = 60 is not allowed;"
        " expected it unset with dead_letter = false: an expired task would be dropped"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"queue_type": "classic", "dead_letter": False},
        {"message_ttl_seconds": 60},
        {"queue_type": "classic", "message_ttl_seconds": 60},
    ],
)
def test_settings_that_lose_no_task_are_allowed(
    stack: TerraformStack, settings: dict[str, Any]
) -> None:
    exchange(stack, **settings)
    assert worker_definition(synth(stack))["overflow"] == "reject-publish"


def test_unroutable_tasks_are_kept_in_their_own_queue_through_an_alternate_exchange(
    stack: TerraformStack,
) -> None:
    """A task whose routing key names no worker would be dropped (or returned, only when the
    producer asked): the task exchange's alternate exchange keeps it instead."""
    tasks = exchange(stack)
    TerraformOutput(stack, "unroutable", value=tasks.unroutable_queue_name)
    synthesized = synth(stack)
    exchanges = {e["name"]: e for e in resources(synthesized, "rabbitmq_exchange")}
    assert exchanges["ml_tasks.unroutable"] == {
        "name": "ml_tasks.unroutable",
        "vhost": VHOST,
        "settings": {"type": "fanout", "durable": True},
    }
    queues = {q["name"]: q for q in resources(synthesized, "rabbitmq_queue")}
    assert queues["ml_tasks.unroutable"] == {
        "name": "ml_tasks.unroutable",
        "vhost": VHOST,
        "settings": QUORUM,
    }
    [binding] = [
        b for b in resources(synthesized, "rabbitmq_binding") if "unroutable" in b["source"]
    ]
    assert binding["routing_key"] == ""
    assert named(synthesized, binding["source"]) == ("rabbitmq_exchange", "ml_tasks.unroutable")
    assert named(synthesized, binding["destination"]) == ("rabbitmq_queue", "ml_tasks.unroutable")
    assert named(synthesized, synthesized["output"]["unroutable"]["value"]) == (
        "rabbitmq_queue",
        "ml_tasks.unroutable",
    )
    # Set by a policy, not an exchange argument, so it can change without replacing anything.
    assert policies(synthesized)[EXCHANGE_POLICY] == {
        "name": EXCHANGE_POLICY,
        "vhost": VHOST,
        "policy": {
            "pattern": "^ml_tasks$",
            "priority": PRIORITY,
            "apply_to": "exchanges",
            "definition": {"alternate-exchange": "ml_tasks.unroutable"},
        },
    }
    assert "arguments" not in exchanges["ml_tasks"]["settings"]
    pattern = re.compile(policies(synthesized)[EXCHANGE_POLICY]["policy"]["pattern"])
    assert [name for name in exchanges if pattern.search(name)] == ["ml_tasks"]


def test_the_unroutable_queue_has_the_worker_queues_type(stack: TerraformStack) -> None:
    exchange(stack, queue_type="classic", dead_letter=False)
    queues = {q["name"]: q["settings"] for q in resources(synth(stack), "rabbitmq_queue")}
    assert queues["ml_tasks.unroutable"] == CLASSIC


def test_the_alternate_exchange_policy_escapes_the_exchange_name(stack: TerraformStack) -> None:
    """A dot in the name would otherwise give the alternate exchange to exchanges that
    differ there."""
    exchange(stack, exchange_name="ml.tasks")
    [policy] = [
        body["policy"]
        for body in resources(synth(stack), "rabbitmq_policy")
        if body["name"] == "ml.tasks-exchange"
    ]
    assert policy["pattern"] == r"^ml\.tasks$"
    assert policy["definition"] == {"alternate-exchange": "ml.tasks.unroutable"}
    pattern = re.compile(policy["pattern"])
    names = ("ml.tasks", "mlxtasks", "ml.tasks.unroutable", "ml.tasks.dead_letter")
    assert [name for name in names if pattern.search(name)] == ["ml.tasks"]


def test_resource_ids_are_kept_so_no_queue_is_replaced(stack: TerraformStack) -> None:
    """Resource addresses derive from these ids: another id would replace the queue and drop
    the tasks in it."""
    tasks = exchange(stack, workers=2)
    assert {child.node.id for child in tasks.node.children} == {
        "vhost",
        "exchange",
        "worker_queue_1",
        "worker_queue_2",
        "worker_queue_1_binding",
        "worker_queue_2_binding",
        "dead_letter_exchange",
        "dead_letter_queue",
        "dead_letter_binding",
        "unroutable_exchange",
        "unroutable_queue",
        "unroutable_binding",
        "worker_policy",
        "exchange_policy",
        "kept_policy",
    }


# The bindings there are whatever the settings, each as (queue, exchange).
ALWAYS_BOUND = {
    ("worker_queue_1", "ml_tasks"),
    ("worker_queue_2", "ml_tasks"),
    ("ml_tasks.unroutable", "ml_tasks.unroutable"),
}


@pytest.mark.parametrize(
    ("settings", "bound"),
    [
        ({}, {*ALWAYS_BOUND, ("ml_tasks.dead_letter", "ml_tasks.dead_letter")}),
        ({"queue_type": "classic", "dead_letter": False}, ALWAYS_BOUND),
    ],
)
def test_each_binding_is_replaced_with_the_queue_and_the_exchange_it_binds(
    stack: TerraformStack, settings: dict[str, Any], bound: set[tuple[str, str]]
) -> None:
    """The broker drops a binding when its queue or its source exchange goes, while
    Terraform's state still holds it: replaced in the same apply, no task goes unrouted
    until a second one."""
    exchange(stack, workers=2, **settings)
    synthesized = synth(stack)
    bindings = set()
    for binding in resources(synthesized, "rabbitmq_binding"):
        queue, source = triggers(binding)
        assert (queue, source) == (target(binding["destination"]), target(binding["source"]))
        assert (queue[0], source[0]) == ("rabbitmq_queue", "rabbitmq_exchange")
        bindings.add((name_of(synthesized, queue), name_of(synthesized, source)))
    assert bindings == bound
    assert len(resources(synthesized, "rabbitmq_binding")) == len(bound)
