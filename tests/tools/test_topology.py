"""The pictures show every queue-related resource and every flow of the synthesized stacks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.synth_helpers import synth_environment
from tools import topology as topology_tool
from tools.topology import (
    HANDFUL,
    QUEUE_TYPES,
    Edge,
    Node,
    Topology,
    markdown,
    mermaid,
    topology,
)

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


def _count(stack: dict[str, Any], resource_type: str) -> int:
    return len(stack.get("resource", {}).get(resource_type, {}))


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "local"])
def test_one_node_per_resource_and_one_edge_per_flow(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    """Every worker drawn (no grouping), so the picture can be counted against the stack."""
    stack = stack_json[env]
    graph = topology(stack, handful=1_000)
    resource_nodes = [n for n in graph.nodes.values() if n.kind != "identity"]
    assert len(resource_nodes) == sum(_count(stack, t) for t in QUEUE_TYPES)
    kinds = [edge.kind for edge in graph.edges]
    queues = stack.get("resource", {}).get("aws_sqs_queue", {}).values()
    assert kinds.count("redrive") == sum("redrive_policy" in queue for queue in queues) > 0
    assert kinds.count("subscription") == _count(stack, "google_pubsub_subscription")
    assert kinds.count("binding") == _count(stack, "rabbitmq_binding")
    subscriptions = stack.get("resource", {}).get("google_pubsub_subscription", {}).values()
    pubsub_dead_letters = [
        e for e in graph.edges if e.kind == "dead_letter" and "google" in e.source
    ]
    assert len(pubsub_dead_letters) == sum("dead_letter_policy" in s for s in subscriptions)
    workers = len([k for k in stack["output"] if re.fullmatch(r"worker_\d+", k)])
    rabbit_dead_letters = [
        e for e in graph.edges if e.kind == "dead_letter" and "rabbitmq_queue" in e.source
    ]
    assert len(rabbit_dead_letters) == (workers if "rabbitmq_policy" in stack["resource"] else 0)
    # Tasks for no worker: from the task exchange to its alternate exchange, once.
    unroutable = [e for e in graph.edges if e.label == "no worker's key"]
    assert len(unroutable) == (1 if "rabbitmq_policy" in stack["resource"] else 0)


def test_who_may_publish_and_consume_in_prod(stack_json: dict[str, dict[str, Any]]) -> None:
    graph = topology(stack_json["prod"], handful=1_000)
    grants = {(e.source, e.target, e.kind) for e in graph.edges if e.kind in ("publish", "consume")}
    assert (
        "identity.ml-queues-prod-producer",
        "rabbitmq_exchange.rabbitmq_task_exchange_9E56CFFD",
        "publish",
    ) in grants
    worker_2 = {e.source for e in graph.edges if e.target == "identity.ml-queues-prod-worker-2"}
    labels = sorted(graph.nodes[source].label for source in worker_2)
    # Its own SQS queue and the shared one (IAM role), and its RabbitMQ queue (user).
    assert labels == ["mlTrainingQueue-prod", "mlTrainingQueue-prod-worker-2", "worker_queue_2"]
    agent = [n for n in graph.nodes.values() if "gcp-sa-pubsub" in n.label]
    assert agent == []
    # The producer's one SQS policy, read through its name pattern: every task queue, no DLQ.
    sent = sorted(
        graph.nodes[e.target].label
        for e in graph.edges
        if e.source == "identity.ml-queues-prod-producer" and e.label == "send"
    )
    assert sent == [
        "mlTrainingQueue-prod",
        *(f"mlTrainingQueue-prod-worker-{n}" for n in range(1, 9)),
    ]


def test_mermaid_escapes_quotes_in_labels() -> None:
    """A subscription filter such as `attributes.kind = "x"` must not end Mermaid's label."""
    graph = Topology()
    graph.nodes["a"] = Node("a", "topic", "router")
    graph.nodes["b"] = Node("b", "subscription", "subscription")
    graph.edges.append(Edge("a", "b", 'attributes.kind = "x"', "subscription"))
    text = mermaid(graph)
    assert "attributes.kind = #quot;x#quot;" in text
    assert text.startswith("flowchart LR\n")


def test_each_worker_topic_feeds_its_own_subscription_only(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    graph = topology(stack_json["dev"])
    labels = {
        graph.nodes[e.source].label: graph.nodes[e.target].label
        for e in graph.edges
        if e.kind == "subscription" and "worker" in graph.nodes[e.source].label
    }
    assert labels == {
        f"mlTrainingTopic-dev-worker-{n}": f"mlTrainingSubscription-dev-worker-{n}"
        for n in (1, 2, 3)
    }


def test_the_committed_pictures_match_the_stacks(
    environment_json: dict[str, dict[str, Any]],
) -> None:
    """Run `make diagram` after a change that alters the stacks."""
    graphs = {env: topology(stack) for env, stack in sorted(environment_json.items())}
    assert (DOCS / "topology.md").read_text() == markdown(graphs)
    for env, graph in graphs.items():
        svg = (DOCS / f"topology-{env}.svg").read_text()
        assert len(re.findall(r'class="node"', svg)) == len(graph.nodes), env
        assert len(re.findall(r'class="edge"', svg)) == len(graph.edges), env


def test_without_graphviz_it_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    args = [str(tmp_path), "--markdown", str(tmp_path / "t.md"), "--svg-dir", str(tmp_path)]
    assert topology_tool.main(args) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_beyond_a_handful_of_workers_the_picture_stays_the_same_size() -> None:
    """Workers 1 and N as they are, those between as one node per kind with their count."""
    small = topology(synth_environment("dev", workers=HANDFUL + 3))
    large = topology(synth_environment("dev", workers=40))
    assert (len(small.nodes), len(small.edges)) == (len(large.nodes), len(large.edges))
    labels = {node.label for node in large.nodes.values()}
    assert {"worker_queue_1", "worker_queue_40", "worker_queue_2…39 (38 workers)"} <= labels
    assert "mlTrainingQueue-dev-worker-2…39-dlq (38 workers)" in labels
    assert not any(
        re.search(r"worker[-_](queue_)?(1[0-9]|2[0-9]|3[0-9])\b", label)
        for label in labels
        if "…" not in label
    )
    routing = {e.label for e in large.edges if e.kind == "binding"}
    assert "worker_queue_2…39" in routing


def test_a_handful_of_workers_are_drawn_one_by_one(stack_json: dict[str, dict[str, Any]]) -> None:
    labels = {node.label for node in topology(stack_json["dev"]).nodes.values()}
    assert {f"worker_queue_{n}" for n in range(1, 4)} <= labels
    assert not any("…" in label for label in labels)
