"""Draw each environment's task flow from its synthesized stack: Mermaid and Graphviz SVG.

Why from `cdk.tf.json` and not from the Python objects: the picture then shows what
Terraform will get, and, for an environment that loads backends into emulators (`deploy =
"emulator"`), what the loaders get of them beside it: each picture is a whole environment.
Drawn: every queue, topic, subscription and exchange; how tasks flow
(SQS queue -> DLQ, topic -> subscription -> dead-letter topic, exchange -> binding -> queue
-> dead-letter exchange); and who may publish or consume.

    python -m tools.topology cdktf.out/stacks --markdown docs/topology.md --svg-dir docs
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.registry import backends
from tools import references
from tools.operator_input import whole_environment

# The resources that hold or route tasks: one node each.
QUEUE_TYPES = (
    "aws_sqs_queue",
    "google_pubsub_topic",
    "google_pubsub_subscription",
    "rabbitmq_exchange",
    "rabbitmq_queue",
)
_FOLLOWED = ("google_pubsub_", "rabbitmq_")
# IAM grants to Pub/Sub's own service agent are plumbing for dead-lettering, not a user.
_SERVICE_AGENT = "@gcp-sa-pubsub.iam.gserviceaccount.com"


@dataclass(frozen=True, order=True)
class Node:
    id: str
    label: str
    kind: str  # queue, router (exchange or topic), subscription, identity


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str  # redrive, subscription, dead_letter, binding, publish, consume


@dataclass
class Topology:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add_identity(self, name: str) -> str:
        node_id = f"identity.{name}"
        self.nodes.setdefault(node_id, Node(node_id, name, "identity"))
        return node_id


def _references(value: str) -> Iterator[str]:
    """The addresses of the SQS queues and the Pub/Sub and RabbitMQ resources `value` names,
    the ones the picture follows."""
    for reference in references.within(value):
        if reference.type == "aws_sqs_queue" or reference.type.startswith(_FOLLOWED):
            yield reference.address


def _reference(value: str) -> str:
    [address] = list(_references(value))
    return address


def topology(stack: Mapping[str, Any], *, handful: int | None = None) -> Topology:
    """Every task-holding resource and flow of a stack; workers beyond `handful` (default
    HANDFUL) grouped, see `collapse_workers`."""
    resources: Mapping[str, Mapping[str, Any]] = stack.get("resource", {})

    def each(resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for resource_id, body in sorted(resources.get(resource_type, {}).items()):
            yield f"{resource_type}.{resource_id}", body

    graph = Topology()
    kinds = {
        "aws_sqs_queue": "queue",
        "rabbitmq_queue": "queue",
        "google_pubsub_topic": "router",
        "rabbitmq_exchange": "router",
        "google_pubsub_subscription": "subscription",
    }
    for resource_type in QUEUE_TYPES:
        for address, body in each(resource_type):
            graph.nodes[address] = Node(address, body["name"], kinds[resource_type])

    for address, body in each("aws_sqs_queue"):
        if "redrive_policy" not in body:
            continue
        [dead_letter_queue] = list(_references(body["redrive_policy"]))
        count = json.loads(body["redrive_policy"])["maxReceiveCount"]
        label = f"after {count} receives"
        graph.edges.append(Edge(address, dead_letter_queue, label, "redrive"))
    for address, body in each("google_pubsub_subscription"):
        label = body.get("filter", "every task")
        graph.edges.append(Edge(_reference(body["topic"]), address, label, "subscription"))
        policy = body.get("dead_letter_policy")
        if policy:
            label = f"after {policy['max_delivery_attempts']} attempts"
            target = _reference(policy["dead_letter_topic"])
            graph.edges.append(Edge(address, target, label, "dead_letter"))
    for _, body in each("rabbitmq_binding"):
        label = body.get("routing_key") or "every task"
        source, target = _reference(body["source"]), _reference(body["destination"])
        graph.edges.append(Edge(source, target, label, "binding"))
    _rabbitmq_dead_letters(
        graph, dict(each("rabbitmq_queue")), dict(each("rabbitmq_exchange")), each
    )
    _grants(graph, dict(each("rabbitmq_user")), each)
    return collapse_workers(graph, HANDFUL if handful is None else handful)


# Up to this many workers are drawn one by one; beyond, workers 2 to N - 1 become one group
# per kind of node, so that a picture of 1,000 workers is the size of one of 7.
HANDFUL = 5
_WORKER = re.compile(r"(worker[-_](?:queue[-_])?)(\d+)")


def collapse_workers(graph: Topology, handful: int) -> Topology:
    """Workers 1 and N as they are, the ones between as one node per kind that says how many
    it stands for; their edges follow, once each."""
    numbers = [int(m[2]) for n in graph.nodes.values() for m in _WORKER.finditer(n.label)]
    last = max(numbers, default=0)
    if last <= handful:
        return graph
    span = f"2…{last - 1}"

    def grouped(text: str) -> str:
        return _WORKER.sub(lambda m: m[0] if int(m[2]) in (1, last) else f"{m[1]}{span}", text)

    collapsed = Topology()
    moved: dict[str, str] = {}
    for node in graph.nodes.values():
        label = grouped(node.label)
        if label == node.label:
            collapsed.nodes[node.id] = node
            continue
        group_id = f"{node.id.split('.', 1)[0]}.group.{label}"
        moved[node.id] = group_id
        collapsed.nodes[group_id] = Node(group_id, f"{label} ({last - 2} workers)", node.kind)
    for edge in graph.edges:
        source, target = moved.get(edge.source, edge.source), moved.get(edge.target, edge.target)
        label = grouped(edge.label) if {edge.source, edge.target} & moved.keys() else edge.label
        new = Edge(source, target, label, edge.kind)
        if new not in collapsed.edges:
            collapsed.edges.append(new)
    return collapsed


def _rabbitmq_dead_letters(graph: Topology, queues: Any, exchanges: Any, each: Any) -> None:
    """A policy's dead-letter exchange, for every queue its pattern matches, and its
    alternate exchange, for every exchange it matches (where tasks for no worker go)."""
    by_name = {body["name"]: address for address, body in exchanges.items()}
    for _, body in each("rabbitmq_policy"):
        policy = body["policy"]
        alternate = policy["definition"].get("alternate-exchange")
        if alternate is not None:
            for address, exchange in exchanges.items():
                if re.search(policy["pattern"], exchange["name"]):
                    edge = Edge(address, by_name[alternate], "no worker's key", "dead_letter")
                    graph.edges.append(edge)
        dead_letter_exchange = policy["definition"].get("dead-letter-exchange")
        if dead_letter_exchange is None:
            continue
        limit = policy["definition"].get("delivery-limit")
        label = f"delivery limit {limit}" if limit else "rejected or expired"
        for address, queue in queues.items():
            if re.search(policy["pattern"], queue["name"]):
                edge = Edge(address, by_name[dead_letter_exchange], label, "dead_letter")
                graph.edges.append(edge)


def _grants(graph: Topology, users: Any, each: Any) -> None:
    """Publish edges run from the identity, consume edges to it: the way tasks go."""
    routers = {n.label: n.id for n in graph.nodes.values() if n.id.startswith("rabbitmq_exchange")}
    queues = {n.label: n.id for n in graph.nodes.values() if n.id.startswith("rabbitmq_queue")}
    for _, body in each("rabbitmq_permissions"):
        user = graph.add_identity(users[_reference(body["user"])]["name"])
        permissions = body["permissions"]
        for name, address in sorted(routers.items()):
            if permissions["write"] != "^$" and re.search(permissions["write"], name):
                graph.edges.append(Edge(user, address, "publish", "publish"))
        for name, address in sorted(queues.items()):
            if permissions["read"] != "^$" and re.search(permissions["read"], name):
                graph.edges.append(Edge(address, user, "consume", "consume"))
    sqs_queues = {n.label: n.id for n in graph.nodes.values() if n.id.startswith("aws_sqs")}
    for _, body in each("aws_iam_role_policy"):
        role = graph.add_identity(body["role"])
        sends = '"sqs:SendMessage"' in body["policy"].partition('"Effect" = "Deny"')[0]
        for queue in _allowed_queues(body["policy"], sqs_queues):
            if sends:
                graph.edges.append(Edge(role, queue, "send", "publish"))
            else:
                graph.edges.append(Edge(queue, role, "consume", "consume"))
    for resource_type, kind in (
        ("google_pubsub_topic_iam_member", "publish"),
        ("google_pubsub_subscription_iam_member", "consume"),
    ):
        for _, body in each(resource_type):
            if body["member"].endswith(_SERVICE_AGENT):
                continue
            member = graph.add_identity(body["member"].split(":", 1)[1])
            target = _reference(body.get("topic") or body["subscription"])
            edge = Edge(member, target, kind, kind) if kind == "publish" else None
            graph.edges.append(edge or Edge(target, member, kind, kind))


# The account is the stack's own, as a reference: `${data.aws_caller_identity.x.account_id}`.
_QUEUE_ARN_PATTERN = re.compile(r'"arn:[\w-]+:sqs:[\w-]+:\$\{[\w.]+\}:([^"]+)"')


def _allowed_queues(policy: str, queues: Mapping[str, str]) -> list[str]:
    """The queues an IAM policy allows, named by reference or by ARN pattern
    (`arn:...:sqs:REGION:ACCOUNT:name-worker-*`), less those its Deny statement names."""
    allowed, _, denied = policy.partition('"Effect" = "Deny"')

    def matching(text: str) -> set[str]:
        patterns = [re.escape(p).replace(r"\*", ".*") for p in _QUEUE_ARN_PATTERN.findall(text)]
        return {a for n, a in queues.items() if any(re.fullmatch(p, n) for p in patterns)}

    return list(_references(allowed)) + sorted(matching(allowed) - matching(denied))


def _grouped(graph: Topology) -> Iterator[tuple[str | None, list[Node]]]:
    """Nodes by backend, identities last and outside any group."""
    nodes = sorted(graph.nodes.values())
    for backend in backends():
        members = [n for n in nodes if n.id.startswith(f"{backend.provider}_")]
        if members:
            yield backend.title, members
    yield None, [n for n in nodes if n.kind == "identity"]


def _mermaid_id(address: str) -> str:
    return re.sub(r"\W", "_", address)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


_MERMAID_SHAPES = {
    "queue": '[("{}")]',
    "router": '{{{{"{}"}}}}',
    "subscription": '[/"{}"/]',
    "identity": '(["{}"])',
}


def mermaid(graph: Topology) -> str:
    lines = ["flowchart LR"]
    for title, nodes in _grouped(graph):
        indent = "  " if title is None else "    "
        if title is not None:
            lines.append(f'  subgraph {_mermaid_id(title)}["{title}"]')
        for node in nodes:
            shape = _MERMAID_SHAPES[node.kind].format(_mermaid_text(node.label))
            lines.append(f"{indent}{_mermaid_id(node.id)}{shape}")
        if title is not None:
            lines.append("  end")
    for edge in sorted(graph.edges):
        arrow = "-.->" if edge.kind in ("publish", "consume") else "-->"
        label = _mermaid_text(edge.label)
        lines.append(f'  {_mermaid_id(edge.source)} {arrow}|"{label}"| {_mermaid_id(edge.target)}')
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {"queue": "cylinder", "router": "hexagon", "subscription": "box", "identity": "oval"}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(graph: Topology, title: str) -> str:
    lines = [
        f"digraph {_dot_text(title)} {{",
        "  rankdir=LR;",
        f"  label={_dot_text(title)}; labelloc=t;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for group, nodes in _grouped(graph):
        indent = "  " if group is None else "    "
        if group is not None:
            lines.append(f"  subgraph {_dot_text('cluster_' + group)} {{")
            lines.append(f"    label={_dot_text(group)}; style=rounded; color=gray;")
        for node in nodes:
            lines.append(
                f"{indent}{_dot_text(node.id)} [label={_dot_text(node.label)},"
                f" shape={_DOT_SHAPES[node.kind]}];"
            )
        if group is not None:
            lines.append("  }")
    for edge in sorted(graph.edges):
        style = ", style=dashed" if edge.kind in ("publish", "consume") else ""
        lines.append(
            f"  {_dot_text(edge.source)} -> {_dot_text(edge.target)}"
            f" [label={_dot_text(edge.label)}{style}];"
        )
    return "\n".join(lines) + "\n}\n"


def markdown(graphs: Mapping[str, Topology]) -> str:
    parts = [
        "# Topology\n",
        "Generated by `make diagram` from `cdktf.out/stacks/*/cdk.tf.json`; do not edit.",
        "Cylinders are queues, hexagons exchanges and topics, slanted boxes subscriptions,",
        "rounded boxes the identities that may publish (dashed, towards a queue or topic) or",
        "consume (dashed, from one). SVG renderings: `docs/topology-<env>.svg`.\n",
    ]
    for env, graph in graphs.items():
        parts += [f"## {env}\n", "```mermaid", mermaid(graph).rstrip("\n"), "```\n"]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks_dir", type=Path, help="the synthesized cdktf.out/stacks")
    parser.add_argument("--markdown", type=Path, required=True, help="the Mermaid page to write")
    parser.add_argument("--svg-dir", type=Path, required=True, help="where topology-<env>.svg go")
    args = parser.parse_args(argv)
    dot_command = shutil.which("dot")
    if dot_command is None:
        print(
            "error: Graphviz `dot` not found; install it (`apt-get install graphviz`,"
            " `brew install graphviz`)",
            file=sys.stderr,
        )
        return 2
    # Each environment whole: `local`'s emulated part is drawn with its Terraform part.
    graphs = {
        path.parent.name: topology(whole_environment(path.parent))
        for path in sorted(args.stacks_dir.glob("*/cdk.tf.json"))
    }
    if not graphs:
        print(f"error: no stacks in {args.stacks_dir}; run `make synth`", file=sys.stderr)
        return 2
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(markdown(graphs), encoding="utf-8")
    args.svg_dir.mkdir(parents=True, exist_ok=True)
    for env, graph in graphs.items():
        svg = subprocess.run(
            [dot_command, "-Tsvg"],
            input=dot(graph, f"ml-queues {env}"),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        (args.svg_dir / f"topology-{env}.svg").write_text(svg, encoding="utf-8")
        print(f"{env}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
