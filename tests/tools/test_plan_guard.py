"""The plan guard's judgement, on plans in `terraform show -json`'s format.

The rabbitmq and google providers cannot run here, so their cases are plans written in the
format Terraform records (resource_changes with actions, replace_paths and the state before);
tests/integration/test_plan_guard.py runs the guard on real plans against moto and RabbitMQ.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.moto_server import EMULATOR_CREDENTIALS
from tools.plan_guard import Change, changes, counters, credentials, judge, unknown_allowed


def _change(
    address: str, actions: list[str], before: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    resource_type = address.split(".", maxsplit=1)[0]
    return {
        "address": address,
        "mode": "managed",
        "type": resource_type,
        "name": address.split(".")[1],
        "change": {"actions": actions, "before": before, "after": None, **extra},
    }


QUEUE_3 = "rabbitmq_queue.rabbitmq_task_exchange_worker_queue_3_ABC"
BINDING_3 = "rabbitmq_binding.rabbitmq_task_exchange_worker_queue_3_binding_DEF"
SUBSCRIPTION_2 = "google_pubsub_subscription.pubsub_task_topic_worker_2_subscription_123"
PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "resource_changes": [
        # A queue type change: the provider marks settings ForceNew.
        _change(
            QUEUE_3,
            ["delete", "create"],
            {"name": "worker_queue_3", "vhost": "ml"},
            replace_paths=[["settings", 0, "arguments"]],
        ),
        # Its binding goes with it (replace_triggered_by), which holds no task itself.
        _change(BINDING_3, ["delete", "create"], {"source": "ml_tasks"}),
        # A lowered worker count.
        _change(SUBSCRIPTION_2, ["delete"], {"name": "s-worker-2"}),
        _change("rabbitmq_policy.rabbitmq_task_exchange_worker_policy_1", ["update"], {}),
        _change("aws_sqs_queue.sqs_worker_4_queue_9", ["create"], None),
        _change("rabbitmq_vhost.vhost", ["no-op"], {"name": "ml"}),
        {
            "address": "data.google_project.p",
            "mode": "data",
            "type": "google_project",
            "change": {"actions": ["read"]},
        },
    ],
}


def test_every_change_but_no_ops_and_reads_with_what_forces_a_replace() -> None:
    planned = changes(PLAN)
    assert [(c.address, c.action) for c in planned] == [
        (QUEUE_3, "replace"),
        (BINDING_3, "replace"),
        (SUBSCRIPTION_2, "delete"),
        ("rabbitmq_policy.rabbitmq_task_exchange_worker_policy_1", "update"),
        ("aws_sqs_queue.sqs_worker_4_queue_9", "create"),
    ]
    assert planned[0].replace_paths == ("settings.0.arguments",)
    assert [c.loses_tasks for c in planned] == [True, False, True, False, False]


def test_a_replace_and_a_delete_with_tasks_or_unknown_counts_are_refused() -> None:
    counts = {QUEUE_3: 7}  # Pub/Sub cannot be counted here: unknown
    verdict = judge(changes(PLAN), lambda change: counts.get(change.address), allowed=[])
    assert verdict.refused == [
        f"{QUEUE_3} (replace, tasks waiting: 7)",
        f"{SUBSCRIPTION_2} (delete, tasks waiting: unknown)",
    ]
    assert f"| {QUEUE_3} | replace | settings.0.arguments | 7 |" in verdict.rows
    assert f"| {BINDING_3} | replace |  |  |" in verdict.rows


def test_empty_resources_and_allowed_addresses_pass() -> None:
    counts = {QUEUE_3: 0}
    verdict = judge(
        changes(PLAN), lambda change: counts.get(change.address), allowed=[SUBSCRIPTION_2]
    )
    assert verdict.refused == []
    assert f"| {SUBSCRIPTION_2} | delete |  | unknown (allowed by ALLOW_TASK_LOSS) |" in (
        verdict.rows
    )


def test_updates_in_place_and_creates_are_never_counted() -> None:
    asked: list[str] = []

    def count(change: Change) -> int | None:
        asked.append(change.address)
        return None

    planned = [c for c in changes(PLAN) if c.action in ("update", "create")]
    assert judge(planned, count, allowed=[]).refused == []
    assert asked == []


@pytest.mark.parametrize("actions", [["delete", "create"], ["create", "delete"]])
def test_both_replace_orders_are_replaces(actions: list[str]) -> None:
    plan = {"resource_changes": [_change("aws_sqs_queue.q", actions, {"url": "u"})]}
    [change] = changes(plan)
    assert change.action == "replace" and change.loses_tasks


def test_an_allowed_address_the_plan_does_not_change_is_named() -> None:
    """A typo in ALLOW_TASK_LOSS would otherwise be silence: the guard names it, and stops."""
    typo = "aws_sqs_queue.sqs_worker_4_queue_8"
    assert unknown_allowed(changes(PLAN), [SUBSCRIPTION_2, typo]) == [typo]
    assert unknown_allowed(changes(PLAN), [SUBSCRIPTION_2]) == []


LOCAL = {"provider": {"aws": [{"region": "us-east-1", "endpoints": [{"sqs": "http://x"}]}]}}
CLOUD = {"provider": {"aws": [{"region": "us-east-1"}]}}


@pytest.mark.parametrize(
    ("stack", "env", "expected"),
    [
        # The emulator's stack, nothing set by the caller: moto's test credentials.
        (LOCAL, {"PATH": "/bin"}, {"PATH": "/bin", **EMULATOR_CREDENTIALS}),
        # The caller's own credentials or profile win.
        (LOCAL, {"AWS_ACCESS_KEY_ID": "mine"}, {"AWS_ACCESS_KEY_ID": "mine"}),
        (LOCAL, {"AWS_PROFILE": "p"}, {"AWS_PROFILE": "p"}),
        # A real cloud never gets them.
        (CLOUD, {"PATH": "/bin"}, {"PATH": "/bin"}),
    ],
)
def test_an_emulated_stack_plans_with_moto_s_credentials_unless_the_caller_has_some(
    stack: dict[str, Any], env: dict[str, str], expected: dict[str, str]
) -> None:
    assert credentials(stack, env) == expected


def test_each_backend_in_the_registry_brings_the_counter_for_its_provider() -> None:
    """Pub/Sub has no counter: its deletes are refused unless allowed. RabbitMQ counts only
    with the admin credentials its provider reads."""
    stack = {
        "provider": {
            "aws": [{"region": "us-east-1", "endpoints": [{"sqs": "http://127.0.0.1:9"}]}],
            "google": [{"project": "p"}],
            "rabbitmq": [{"endpoint": "http://127.0.0.1:9"}],
        }
    }
    assert set(counters(stack, {})) == {"aws_"}
    credentials = {"RABBITMQ_USERNAME": "admin", "RABBITMQ_PASSWORD": "x"}
    assert set(counters(stack, credentials)) == {"aws_", "rabbitmq_"}
    assert counters({"provider": {"google": [{}]}}, credentials) == {}


def test_a_forgotten_address_is_shown_and_never_counted() -> None:
    """A `removed` block with `destroy = false`: the old policy leaves state, the queue keeps
    it; nothing is deleted, so there is nothing to count or refuse."""
    plan = {"resource_changes": [_change("aws_sqs_queue_policy.p", ["forget"], {"policy": "{}"})]}
    [change] = changes(plan)
    assert (change.action, change.loses_tasks) == ("forget", False)
    verdict = judge([change], lambda change: None, allowed=[])
    assert verdict.refused == []
    assert "| aws_sqs_queue_policy.p | forget |  |  |" in verdict.rows
