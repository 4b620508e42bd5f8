"""dev's RabbitMQ alerts end to end: a real Prometheus scraping a real broker of each line.

The broker is loaded with dev's topology from its definitions file; Prometheus runs with
exactly the rule file and scrape job that `make rabbitmq-alerts ENV=dev` writes, and the
only thing the test adds is what an operator adds: the targets file naming the node (the
job's 15 s scrape interval and the rules' 15 s evaluation interval stay). A dead letter and an
unroutable task, each made the way the broker makes them, must bring their alert to firing
in Prometheus's API, naming the vhost and queue; taking them must clear it; and an idle,
healthy topology must be in no alarm at all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.settings import common_tags
from tests.integration.harness import PROMETHEUS_START, within_budget
from tests.integration.prometheus_server import Prometheus
from tools import rabbitmq_alerts
from tools.rabbitmq_node import Broker

JOB = rabbitmq_alerts.job_name("dev")
VHOST = "ml-queues-dev"
DEAD_LETTER = "ml_tasks.dead_letter"
UNROUTABLE = "ml_tasks.unroutable"
# The node's 5 s statistics refresh, a scrape every 15 s and an evaluation every 15 s: an
# alert follows the queue within about 35 s; more than twice that, for slow machines.
WITHIN = 90


@pytest.fixture(scope="module")
def prometheus(
    broker: Broker,
    topology: dict[str, Any],
    synth_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Prometheus]:
    home = tmp_path_factory.mktemp("prometheus")
    written = rabbitmq_alerts.main([str(synth_dir / "stacks" / "dev"), "--output-dir", str(home)])
    assert written == 0
    (home / f"{JOB}.targets.yml").write_text(
        yaml.safe_dump([{"targets": [f"127.0.0.1:{broker.metrics_port}"]}])
    )
    server = Prometheus(home)
    started = time.monotonic()
    server.start(
        {
            "rule_files": ["dev.rules.yml"],
            **yaml.safe_load((home / "dev.scrape.yml").read_text()),
        }
    )
    try:
        within_budget(f"Prometheus (log: {home / 'prometheus.log'})", started, PROMETHEUS_START)
        queues = len(topology["queues"])
        server.wait_for(
            lambda: (
                server.value(f'count(rabbitmq_detailed_queue_messages{{job="{JOB}"}})') == queues
            ),
            f"Prometheus to scrape the {queues} queues of {VHOST}",
            timeout=WITHIN,
        )
        # The rules run on their own 15 s clock, not the scrape's: until their first run
        # their health is "unknown", which says nothing about them either way.
        server.wait_for(
            lambda: all(
                rule["health"] != "unknown"
                for group in server.api("rules")["groups"]
                for rule in group["rules"]
            ),
            "Prometheus to evaluate the rules once",
            timeout=WITHIN,
        )
        yield server
    finally:
        server.stop()


def _firing(prometheus: Prometheus) -> dict[str, dict[str, Any]]:
    return {
        alert["labels"]["alertname"]: alert
        for alert in prometheus.alerts()
        if alert["state"] == "firing"
    }


def test_the_job_stores_three_series_per_queue(
    prometheus: Prometheus, topology: dict[str, Any]
) -> None:
    """The cost docs/alarms.md gives per worker: what the job keeps of each scrape."""
    kept = prometheus.value(f'scrape_samples_post_metric_relabeling{{job="{JOB}"}}')
    assert kept == rabbitmq_alerts.SERIES_PER_QUEUE * len(topology["queues"])


def test_a_healthy_idle_topology_is_in_no_alarm(
    prometheus: Prometheus, channel: Any, topology: dict[str, Any]
) -> None:
    """Empty queues, nobody consuming: nothing pending or firing once the first scrape is
    in (before it, the not-reported alerts are pending), the rules evaluated without error."""
    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["health"] for rule in rules} == {"ok"}
    assert len(rules) == len(
        yaml.safe_load((prometheus.home / "dev.rules.yml").read_text())["groups"][0]["rules"]
    )
    prometheus.wait_for(lambda: prometheus.alerts() == [], "no alert at all", timeout=WITHIN)


def test_a_dead_letter_and_an_unroutable_task_fire_until_they_are_taken(
    prometheus: Prometheus, channel: Any
) -> None:
    body = f"task {uuid.uuid4()}".encode()
    channel.basic_publish("ml_tasks", "worker_queue_1", body, mandatory=True)
    method, _, _ = channel.basic_get("worker_queue_1")
    assert method is not None
    channel.basic_reject(method.delivery_tag, requeue=False)
    channel.basic_publish("ml_tasks", "worker_queue_99", body, mandatory=True)

    expected = {
        "MlQueuesRabbitMqDeadLetterWaiting": DEAD_LETTER,
        "MlQueuesRabbitMqUnroutableTaskKept": UNROUTABLE,
    }

    def both() -> dict[str, dict[str, Any]] | None:
        found = _firing(prometheus)
        return found if found.keys() >= expected.keys() else None

    firing = prometheus.wait_for(
        both, "the dead-letter and unroutable alerts to fire", timeout=WITHIN
    )
    assert firing.keys() == expected.keys()
    for name, queue in expected.items():
        labels = firing[name]["labels"]
        assert labels == {
            "alertname": name,
            "vhost": VHOST,
            "queue": queue,
            "severity": "warning",
            **common_tags("dev"),
        }
        assert f"{queue} of vhost {VHOST}" in firing[name]["annotations"]["summary"]

    for queue in expected.values():
        method, _, received = channel.basic_get(queue, auto_ack=True)
        assert method is not None and received == body
    prometheus.wait_for(lambda: prometheus.alerts() == [], "the alerts to clear", timeout=WITHIN)
