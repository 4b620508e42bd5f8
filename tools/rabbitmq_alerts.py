"""Prometheus alerting rules for one environment's RabbitMQ part, and the scrape job they read.

Why: a dead letter, an unroutable task or a worker queue that nobody consumes waits on the
broker, kept, and nobody is told. The broker's own `rabbitmq_prometheus` plugin (3.10 and
4.x) reports every queue's depth and consumers; these rules turn that into alerts that name
the vhost and queue at fault and carry the environment's labels. Names come from the
synthesized stack (the policies say which queues are workers' and where dead letters and
unroutable tasks go, exactly as Terraform creates them); thresholds from the environment's
`[rabbitmq]` settings.

    python -m tools.rabbitmq_alerts cdktf.out/stacks/prod --output-dir cdktf.out/rabbitmq-alerts

writes `prod.rules.yml` (for `rule_files`) and `prod.scrape.yml` (a job for `scrape_configs`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from stacks.settings import ConfigError, common_tags, load_environment
from tools.operator_input import OperatorError, synthesized
from tools.rabbitmq_definitions import DefinitionsError, definitions

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# The per-queue endpoint restricted to the environment's vhost and the two metric families
# the rules read: `/metrics` aggregates queues away, and `/metrics/per-object` returns every
# queue of every vhost with every family ("detailed" endpoint, RabbitMQ's Prometheus guide).
METRICS_PATH = "/metrics/detailed"
FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")
# The three series per queue that the rules read; the job keeps only these.
MESSAGES = "rabbitmq_detailed_queue_messages"
READY = "rabbitmq_detailed_queue_messages_ready"
CONSUMERS = "rabbitmq_detailed_queue_consumers"
SERIES_PER_QUEUE = 3
# RabbitMQ's Prometheus guide gives 15 s as the least scrape interval worth having (a node
# refreshes classic queues' metrics every `collect_statistics_interval`, quorum queues' every
# `quorum_tick_interval`, 5 s each by default); the rules are evaluated as often.
SCRAPE_INTERVAL = "15s"
# How long a failing scrape, or a queue that no node reports, lasts before anyone is paged:
# eight scrapes, so one slow answer or a node's restart does not cry wolf.
UNWATCHED_FOR = "2m"
# A burst that fills a queue for a moment is not yet a problem; one that stays is.
NEAR_FULL_FOR = "1m"
# A failed scrape marks every series of the node stale at once, which would resolve a dead
# letter's alert (and restart every `for`) while the task still waits. The queue rules read
# each queue's last sample within this window instead: longer than UNWATCHED_FOR plus an
# evaluation, so EndpointDown fires before they could let go; a sample of 0 clears them at once.
BRIDGED = "3m"
# Two nodes reporting one queue for this long is not a leader moving (the new leader deletes
# the old one's row) but a node cut off from the leader, holding old numbers.
REPORTED_TWICE_FOR = "5m"


@dataclass(frozen=True)
class Topology:
    """What the rules watch, as the stack defines it."""

    vhost: str
    worker_pattern: str
    workers: int
    dead_letter_queue: str | None
    unroutable_queue: str
    max_length: int | None


def topology(stack: Mapping[str, Any]) -> Topology:
    """The vhost and queues from the stack's policies: the worker policy's pattern names the
    worker queues, its `dead-letter-exchange` and the exchange policy's `alternate-exchange`
    lead, through their bindings, to the queues that keep dead letters and unroutable tasks."""
    found = definitions(stack)
    if not found["vhosts"]:
        raise OperatorError("the stack has no RabbitMQ part ([rabbitmq] enabled = false)")
    [vhost] = [entry["name"] for entry in found["vhosts"]]
    queue_policies = [p for p in found["policies"] if p["apply-to"] == "queues"]
    [workers] = [p for p in queue_policies if "overflow" in p["definition"]]
    [exchanges] = [p for p in found["policies"] if p["apply-to"] == "exchanges"]

    def kept_by(exchange: str) -> str:
        [queue] = [b["destination"] for b in found["bindings"] if b["source"] == exchange]
        return str(queue)

    dead_letter_exchange = workers["definition"].get("dead-letter-exchange")
    # The broker searches a policy's pattern, PromQL matches a regex against the whole name:
    # the two select the same queues only when the pattern is anchored at both ends.
    if not (workers["pattern"].startswith("^") and workers["pattern"].endswith("$")):
        raise DefinitionsError(f"worker policy pattern {workers['pattern']!r} is not anchored")
    pattern = re.compile(workers["pattern"])
    return Topology(
        vhost=vhost,
        worker_pattern=workers["pattern"],
        workers=sum(1 for q in found["queues"] if pattern.search(q["name"])),
        dead_letter_queue=kept_by(dead_letter_exchange) if dead_letter_exchange else None,
        unroutable_queue=kept_by(exchanges["definition"]["alternate-exchange"]),
        max_length=workers["definition"].get("max-length"),
    )


def job_name(environment: str) -> str:
    """The scrape job the rules select, so that another job scraping the same broker (with
    other labels) is neither counted twice nor taken for this environment's."""
    return f"ml-queues-rabbitmq-{environment}"


def _quoted(value: str) -> str:
    """A PromQL string literal: Go's escapes, which JSON's are for `"`, `\\` and the control
    characters; any other character as itself, since Go takes no surrogate pair."""
    return json.dumps(value, ensure_ascii=False)


def _text(value: str) -> str:
    """Static text in a label or description, which Prometheus expands as a Go template: a name
    holding `{{` becomes a template string literal, shown as written."""
    return f"{{{{ {_quoted(value)} }}}}" if "{{" in value else value


def scrape_job(environment: str, found: Topology) -> dict[str, Any]:
    """The job: each node's endpoint from a file the operator keeps (file_sd), so the job
    itself holds no host name; only the series the rules read are stored."""
    return {
        "job_name": job_name(environment),
        "scrape_interval": SCRAPE_INTERVAL,
        "metrics_path": METRICS_PATH,
        "params": {"vhost": [found.vhost], "family": list(FAMILIES)},
        "file_sd_configs": [{"files": [f"{job_name(environment)}.targets.yml"]}],
        "metric_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": "|".join((MESSAGES, READY, CONSUMERS)),
                "action": "keep",
            }
        ],
    }


class _Rules:
    """One environment's rules, each selecting its job and vhost."""

    def __init__(self, environment: str, found: Topology) -> None:
        self._job = job_name(environment)
        self._found = found
        self._labels = common_tags(environment)
        self.rules: list[dict[str, Any]] = []

    def selector(self, metric: str, queue: str, *, regex: bool = False) -> str:
        match = "=~" if regex else "="
        return (
            f"{metric}{{job={_quoted(self._job)}, vhost={_quoted(self._found.vhost)},"
            f" queue{match}{_quoted(queue)}}}"
        )

    def series(self, metric: str, queue: str, *, regex: bool = False) -> str:
        """`metric` of the environment's queues: one series per queue, whichever node of a
        cluster reports it (the node hosting the queue, or its quorum leader), bridged over
        failed scrapes (BRIDGED)."""
        selector = self.selector(metric, queue, regex=regex)
        return f"max by (vhost, queue) (last_over_time({selector}[{BRIDGED}]))"

    @property
    def up(self) -> str:
        return f"up{{job={_quoted(self._job)}}}"

    def add(
        self,
        name: str,
        expr: str,
        *,
        wait: str,
        severity: str,
        summary: str,
        description: str,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """`summary` is a template (`{{ $labels.queue }}`); `description` and `labels` are
        shown as written, whatever names they hold."""
        rule: dict[str, Any] = {"alert": f"MlQueuesRabbitMq{name}", "expr": expr}
        if wait != "0s":
            rule["for"] = wait
        rule["labels"] = {
            **self._labels,
            "severity": severity,
            **{key: _text(value) for key, value in (labels or {}).items()},
        }
        rule["annotations"] = {"summary": summary, "description": _text(description)}
        self.rules.append(rule)


def alert_rules(
    environment: str, found: Topology, props: RabbitMqTaskExchangeProps
) -> dict[str, Any]:
    """The rule file: the alerts, whatever the number of workers (the worker queues are one
    pattern), each naming the vhost and the queue at fault."""
    rules = _Rules(environment, found)
    at = "{{ $labels.queue }} of vhost {{ $labels.vhost }}"
    workers = found.worker_pattern
    if found.dead_letter_queue is not None:
        rules.add(
            "DeadLetterWaiting",
            f"{rules.series(MESSAGES, found.dead_letter_queue)} > 0",
            wait="0s",
            severity="warning",
            summary=f"{{{{ $value }}}} dead letters wait in {at}",
            description="Tasks past the delivery limit, rejected or expired are kept here; each"
            " one's x-death header names the worker queue it came from. The alert fires for as"
            " long as one waits, read or not.",
        )
    rules.add(
        "UnroutableTaskKept",
        f"{rules.series(MESSAGES, found.unroutable_queue)} > 0",
        wait="0s",
        severity="warning",
        summary=f"{{{{ $value }}}} tasks for no worker are kept in {at}",
        description="A producer published with a routing key that names no worker queue; the"
        " alternate exchange kept the task here.",
    )
    rules.add(
        "WorkerQueueUnconsumed",
        f"{rules.series(READY, workers, regex=True)} > 0 and on (vhost, queue)"
        f" {rules.series(CONSUMERS, workers, regex=True)} == 0",
        wait=f"{props.unconsumed_alarm_seconds}s",
        severity="critical",
        summary=f"{{{{ $value }}}} ready tasks and no consumer in {at}",
        description=f"No worker has consumed this queue for {props.unconsumed_alarm_seconds} s"
        " (unconsumed_alarm_seconds) while tasks wait in it: its worker is down or cannot"
        " connect.",
    )
    if found.max_length is not None:
        threshold = math.ceil(found.max_length * props.max_length_alarm_percent / 100)
        rules.add(
            "WorkerQueueNearFull",
            f"{rules.series(READY, workers, regex=True)} >= {threshold}",
            wait=NEAR_FULL_FOR,
            severity="warning",
            summary=f"{{{{ $value }}}} of {found.max_length} ready tasks in {at}",
            description=f"At {found.max_length} (max_length) the queue refuses new tasks and"
            " the producer gets a nack; this fires at"
            f" {props.max_length_alarm_percent}% (max_length_alarm_percent).",
        )
    unwatched = f"every queue of vhost {found.vhost}"
    rules.add(
        "EndpointDown",
        f"{rules.up} == 0",
        wait=UNWATCHED_FOR,
        severity="critical",
        summary="{{ $labels.instance }} does not answer Prometheus's scrape",
        description=f"The node or its rabbitmq_prometheus endpoint is gone, and {unwatched}"
        " that it hosts is unwatched.",
        labels={"vhost": found.vhost},
    )
    rules.add(
        "EndpointMissing",
        f"absent({rules.up})",
        wait=UNWATCHED_FOR,
        severity="critical",
        summary=f"Prometheus scrapes no node for job {job_name(environment)}",
        description=f"The job has no node to scrape ({job_name(environment)}.targets.yml is"
        f" empty or missing), so {unwatched} is unwatched.",
        labels={"vhost": found.vhost},
    )
    kept = [q for q in (found.dead_letter_queue, found.unroutable_queue) if q is not None]
    rules.add(
        "KeptQueueNotReported",
        " or ".join(f"absent({rules.selector(MESSAGES, queue)})" for queue in kept),
        wait=UNWATCHED_FOR,
        severity="critical",
        summary=f"no node reports {at}",
        description="The queue is gone, or no node that answers hosts it (a quorum queue"
        " without a leader): what it keeps is not watched.",
    )
    reported = rules.selector(MESSAGES, workers, regex=True)
    rules.add(
        "WorkerQueuesNotReported",
        f"count by (vhost) (max by (vhost, queue) ({reported})) < {found.workers}"
        f" or absent({reported})",
        wait=UNWATCHED_FOR,
        severity="critical",
        summary=f"fewer than {found.workers} worker queues of vhost {{{{ $labels.vhost }}}}"
        " are reported",
        description=f"The stack defines {found.workers} worker queues ({workers}); the missing"
        " ones are gone, or no node that answers hosts them, and the other alerts cannot see"
        " their tasks.",
        labels={"vhost": found.vhost},
    )
    everything = rules.selector(MESSAGES, ".*", regex=True)
    rules.add(
        "QueueReportedTwice",
        f"count by (vhost, queue) ({everything}) > 1",
        wait=REPORTED_TWICE_FOR,
        severity="warning",
        summary=f"two nodes report {at}",
        description="A node cut off from the queue's leader keeps the queue's old numbers, and"
        " the other alerts read the larger of them: an old consumer can hide a worker queue"
        " nobody consumes, an old depth a dead letter taken. Heal the partition.",
    )
    group = {"name": job_name(environment), "interval": SCRAPE_INTERVAL, "rules": rules.rules}
    return {"groups": [group]}


def _dump(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, width=100, allow_unicode=True)


def _props(stack_dir: Path, config_dir: Path) -> RabbitMqTaskExchangeProps:
    environment = load_environment(config_dir, stack_dir.name)
    props = environment.props(RabbitMqTaskExchangeProps)
    if props is None:
        raise OperatorError(
            f"ENV = {stack_dir.name!r} has no RabbitMQ part ([rabbitmq] enabled = false in"
            f" {environment.source}), so there is nothing to alert on"
        )
    return props


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_dir", type=Path, help="cdktf.out/stacks/<env>")
    parser.add_argument("--output-dir", type=Path, required=True, help="where to write them")
    parser.add_argument("--config-dir", type=Path, default=CONFIG_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    environment = args.stack_dir.name
    try:
        stack = synthesized(args.stack_dir)
        props = _props(args.stack_dir, args.config_dir)
        found = topology(stack)
    except (OperatorError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DefinitionsError as error:
        print(f"error: {args.stack_dir}: {error}", file=sys.stderr)
        return 2
    args.output_dir.mkdir(parents=True, exist_ok=True)
    written = {
        args.output_dir / f"{environment}.rules.yml": alert_rules(environment, found, props),
        args.output_dir / f"{environment}.scrape.yml": {
            "scrape_configs": [scrape_job(environment, found)]
        },
    }
    for path, document in written.items():
        path.write_text(_dump(document), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
