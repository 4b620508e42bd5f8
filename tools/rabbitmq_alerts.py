"""Prometheus alerting rules for one environment's RabbitMQ part, and the scrape job they read.

Why: a dead letter, an unroutable task or a worker queue that nobody consumes waits on the
broker, kept, and nobody is told. The broker's own `rabbitmq_prometheus` plugin (3.10 and
4.x) reports every queue's depth and consumers; RabbitMQ's alarm catalogue
(constructs_lib/rabbitmq/alarms.py) turns that into alerts that name the vhost and queue at
fault, and the Prometheus renderer (constructs_lib/alarms/prometheus.py) into rules that carry
the environment's labels. Names come from the synthesized stack (the policies say which
queues are workers' and where dead letters and unroutable tasks go, exactly as Terraform
creates them); thresholds from the environment's `[rabbitmq]` settings.

    python -m tools.rabbitmq_alerts cdktf.out/stacks/prod --output-dir cdktf.out/rabbitmq-alerts

writes `prod.rules.yml` (for `rule_files`) and `prod.scrape.yml` (a job for `scrape_configs`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from constructs_lib.alarms.prometheus import rule_group
from constructs_lib.rabbitmq.alarms import (
    CONSUMERS,
    MESSAGES,
    READY,
    SCRAPE_INTERVAL,
    Topology,
    exchange_alarms,
)
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from stacks.settings import ConfigError, common_tags, load_environment
from tools.operator_input import OperatorError, part_holding
from tools.rabbitmq_definitions import DefinitionsError, definitions

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# The per-queue endpoint restricted to the environment's vhost and the two metric families
# the rules read: `/metrics` aggregates queues away, and `/metrics/per-object` returns every
# queue of every vhost with every family ("detailed" endpoint, RabbitMQ's Prometheus guide).
METRICS_PATH = "/metrics/detailed"
FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")
# The series per queue that the rules read; the job keeps only these.
KEPT_SERIES = (MESSAGES, READY, CONSUMERS)
SERIES_PER_QUEUE = len(KEPT_SERIES)


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
                "regex": "|".join(KEPT_SERIES),
                "action": "keep",
            }
        ],
    }


def alert_rules(
    environment: str, found: Topology, props: RabbitMqTaskExchangeProps
) -> dict[str, Any]:
    """The rule file: RabbitMQ's alarms on this environment's job, one group evaluated as
    often as the job scrapes, every rule carrying the environment's labels."""
    job = job_name(environment)
    alarms = exchange_alarms(job, found, props)
    return {"groups": [rule_group(job, SCRAPE_INTERVAL, alarms, common_tags(environment))]}


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
        _, stack = part_holding(args.stack_dir, "rabbitmq")
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
