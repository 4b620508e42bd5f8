"""What the README's own-app example (docs/examples/own_app.py) must synthesize: the three seed
systems, by the names a user sees. Held both in `make test` (run in this process) and in the
integration test that runs it from an installed wheel. Logical ids are not checked: the
example may change constructs, the systems it describes may not."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "docs" / "examples" / "own_app.py"
STACK = "training"
WORKER_QUEUES = ["worker_queue_1", "worker_queue_2", "worker_queue_3"]


def _names(resources: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources.get(resource_type, {}).values()}


def _name_of(resources: Mapping[str, Any], reference: str) -> str:
    """The `name` of the resource a `${type.id.name}` reference points at."""
    found = re.fullmatch(r"\$\{(\w+)\.(\w+)\.name\}", reference)
    assert found, reference
    name: str = resources[found[1]][found[2]]["name"]
    return name


def check_seed_systems(stack: Mapping[str, Any]) -> None:
    assert sorted(stack["provider"]) == ["aws", "google", "rabbitmq"]
    resources = stack["resource"]

    queues = _names(resources, "aws_sqs_queue")
    assert sorted(queues) == ["training-tasks", "training-tasks-dlq"]
    assert "deadLetterTargetArn" in queues["training-tasks"]["redrive_policy"]

    topics = _names(resources, "google_pubsub_topic")
    assert "mlTrainingTopic" in topics
    assert not any("-worker-" in name for name in topics)
    subscription = _names(resources, "google_pubsub_subscription")["mlTrainingSubscription"]
    assert _name_of(resources, subscription["topic"]) == "mlTrainingTopic"

    (vhost,) = resources["rabbitmq_vhost"].values()
    exchange = _names(resources, "rabbitmq_exchange")["ml_tasks"]
    assert exchange["settings"] == {"type": "direct", "durable": True}
    assert _name_of(resources, exchange["vhost"]) == vhost["name"]
    rabbit_queues = _names(resources, "rabbitmq_queue")
    for name in WORKER_QUEUES:
        assert rabbit_queues[name]["settings"]["durable"] is True
    bound = sorted(
        (_name_of(resources, b["destination"]), b["routing_key"])
        for b in resources["rabbitmq_binding"].values()
        if _name_of(resources, b["source"]) == "ml_tasks"
    )
    assert bound == [(name, name) for name in WORKER_QUEUES]
