"""The generated alerting rules, evaluated by Prometheus's own engine (`promtool test rules`).

Why: whether an alert fires, when, and with which labels is decided by PromQL and the
rules' `for`, which only Prometheus evaluates faithfully. The series are labelled as the
broker's `/metrics/detailed` endpoint and the scrape job label them, so each test says what
an operator would see: one alert naming the vhost and queue at fault, and none at all while
the fleet is healthy. A real broker and Prometheus are test_rabbitmq_alerts.py's part.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.settings import common_tags, load_environment
from tests.integration.harness import run
from tests.integration.prometheus_server import executable
from tests.synth_helpers import environment, synth_settings
from tools import rabbitmq_alerts
from tools.rabbitmq_alerts import alert_rules, job_name, topology

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"
JOB = job_name("dev")
INSTANCE = "node1:15692"
VHOST = "ml-queues-dev"
DEAD_LETTER = "ml_tasks.dead_letter"
UNROUTABLE = "ml_tasks.unroutable"
WORKERS = tuple(f"worker_queue_{n}" for n in range(1, 4))
QUEUES = (DEAD_LETTER, UNROUTABLE, *WORKERS)
MESSAGES = "rabbitmq_detailed_queue_messages"
READY = "rabbitmq_detailed_queue_messages_ready"
CONSUMERS = "rabbitmq_detailed_queue_consumers"
# Samples every 15 s, as the scrape job takes them; series last three hours, past every
# evaluation below.
SAMPLES_PER_MINUTE = 4
HOURS = 3 * 60
# The dev stack with a `max_length`, so that the near-full rule exists; 90% of it.
MAX_LENGTH = 100
THRESHOLD = 90
# One alert as promtool expects it, and the (eval_time, alertname, alerts) checks of a test.
Alert = dict[str, dict[str, str]]
Expected = list[tuple[str, str, list[Alert]]]
Evaluate = Callable[[list[dict[str, str]], Expected], None]


@pytest.fixture(scope="module")
def promtool() -> str:
    return executable("promtool")


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev's rules, from dev's stack and settings with `max_length` set: every rule there is."""
    settings = environment("dev", rabbitmq={"max_length": MAX_LENGTH})
    assert settings.backends["rabbitmq"] is not None
    found = topology(synth_settings(settings))
    path = tmp_path_factory.mktemp("rules") / "dev.rules.yml"
    path.write_text(yaml.safe_dump(alert_rules("dev", found, settings.backends["rabbitmq"])))
    return path


def _rules(path: Path) -> dict[str, dict[str, Any]]:
    [group] = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"]: rule for rule in group["rules"]}


def _values(*segments: tuple[float, int]) -> str:
    """promtool's expanding notation for a series holding each value for so many minutes."""
    return " ".join(f"{value}+0x{minutes * SAMPLES_PER_MINUTE - 1}" for value, minutes in segments)


def _queue_series(metric: str, queue: str, values: str) -> dict[str, str]:
    labels = f'job="{JOB}",instance="{INSTANCE}",vhost="{VHOST}",queue="{queue}"'
    return {"series": f"{metric}{{{labels}}}", "values": values}


def _fleet(
    changed: Mapping[tuple[str, str], str] | None = None,
    *,
    unreported: tuple[str, ...] = (),
    up: str | None = _values((1, HOURS)),
) -> list[dict[str, str]]:
    """A healthy idle fleet: every queue empty and reported, a consumer on each worker queue,
    the node up; `changed` replaces a (metric, queue)'s values, `unreported` queues have no
    series, and `up=None` leaves the job without its `up` series."""
    changed = changed or {}

    def idle(metric: str, queue: str) -> str:
        return _values((1 if metric == CONSUMERS and queue in WORKERS else 0, HOURS))

    series = [
        _queue_series(metric, queue, changed.get((metric, queue)) or idle(metric, queue))
        for queue in QUEUES
        if queue not in unreported
        for metric in (MESSAGES, READY, CONSUMERS)
    ]
    if up is not None:
        series.append({"series": f'up{{job="{JOB}",instance="{INSTANCE}"}}', "values": up})
    return series


def _firing(rule: Mapping[str, Any], summary: str, severity: str, **labels: str) -> Alert:
    """The alert as promtool must see it: every label, the expression's and the rule's."""
    return {
        "exp_labels": {**labels, **common_tags("dev"), "severity": severity},
        "exp_annotations": {"summary": summary, "description": rule["annotations"]["description"]},
    }


def _promtool(promtool: str, *args: str, cwd: Path) -> None:
    result = run([promtool, *args], cwd=cwd, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.fixture
def evaluate(promtool: str, rule_file: Path, tmp_path: Path) -> Evaluate:
    """`promtool test rules` of the rule file on some series: each (eval_time, alertname,
    alerts) must hold exactly."""

    def run_test(series: list[dict[str, str]], expected: Expected) -> None:
        document = {
            "rule_files": [str(rule_file)],
            "evaluation_interval": "15s",
            "tests": [
                {
                    "interval": "15s",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": at, "alertname": name, "exp_alerts": alerts}
                        for at, name, alerts in expected
                    ],
                }
            ],
        }
        test_file = tmp_path / "test.yml"
        test_file.write_text(yaml.safe_dump(document, sort_keys=False))
        _promtool(promtool, "test", "rules", str(test_file), cwd=tmp_path)

    return run_test


def test_a_healthy_idle_fleet_is_in_no_alarm(rule_file: Path, evaluate: Evaluate) -> None:
    names = sorted(_rules(rule_file))
    assert len(names) == 9
    expected: Expected = [(at, name, []) for at in ("0m", "5m", "30m", "2h") for name in names]
    evaluate(_fleet(), expected)


@pytest.mark.parametrize(
    ("queue", "name", "summary"),
    [
        (DEAD_LETTER, "DeadLetterWaiting", "dead letters wait in"),
        (UNROUTABLE, "UnroutableTaskKept", "tasks for no worker are kept in"),
    ],
    ids=["dead-letter", "unroutable"],
)
def test_a_kept_task_alarms_for_as_long_as_it_waits(
    rule_file: Path, evaluate: Evaluate, queue: str, name: str, summary: str
) -> None:
    """From the first scrape that counts it, through hours of nobody reading it, until it is
    taken."""
    rule = _rules(rule_file)[f"MlQueuesRabbitMq{name}"]
    waiting = _values((0, 10), (1, 120), (0, 60))
    firing = [
        _firing(rule, f"1 {summary} {queue} of vhost {VHOST}", "warning", vhost=VHOST, queue=queue)
    ]
    evaluate(
        _fleet({(MESSAGES, queue): waiting}),
        [
            ("9m45s", rule["alert"], []),
            ("10m", rule["alert"], firing),
            ("2h9m45s", rule["alert"], firing),
            ("2h10m", rule["alert"], []),
        ],
    )


def test_a_failed_scrape_does_not_resolve_a_waiting_dead_letter(
    rule_file: Path, evaluate: Evaluate
) -> None:
    """A scrape that fails marks the node's series stale at once; the alert holds on to the
    last count until EndpointDown has fired, and the dead letter is still counted after."""
    rule = _rules(rule_file)["MlQueuesRabbitMqDeadLetterWaiting"]
    outage = 12  # three minutes of failed scrapes, 15 s apart
    waiting = f"{_values((1, 20))} stale _x{outage - 2} {_values((1, HOURS))}"
    down = f"{_values((1, 20))} {_values((0, 3))} {_values((1, HOURS))}"
    firing = [
        _firing(
            rule,
            f"1 dead letters wait in {DEAD_LETTER} of vhost {VHOST}",
            "warning",
            vhost=VHOST,
            queue=DEAD_LETTER,
        )
    ]
    evaluate(
        _fleet({(MESSAGES, DEAD_LETTER): waiting}, up=down),
        [(at, rule["alert"], firing) for at in ("19m", "20m15s", "21m", "22m30s", "25m")],
    )


def test_a_queue_two_nodes_report_alarms_after_five_minutes(
    rule_file: Path, evaluate: Evaluate
) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqQueueReportedTwice"]
    queue = WORKERS[0]
    cut_off = {
        "series": f'{MESSAGES}{{job="{JOB}",instance="node2:15692",vhost="{VHOST}",'
        f'queue="{queue}"}}',
        "values": _values((0, HOURS)),
    }
    firing = [
        _firing(
            rule, f"two nodes report {queue} of vhost {VHOST}", "warning", vhost=VHOST, queue=queue
        )
    ]
    evaluate(
        [*_fleet(), cut_off],
        [("4m45s", rule["alert"], []), ("5m", rule["alert"], firing)],
    )


def test_ready_tasks_without_a_consumer_alarm_after_the_setting(
    rule_file: Path, evaluate: Evaluate
) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqWorkerQueueUnconsumed"]
    assert rule["for"] == "300s"
    queue = WORKERS[1]
    ready = _values((0, 10), (5, HOURS - 10))
    firing = [
        _firing(
            rule,
            f"5 ready tasks and no consumer in {queue} of vhost {VHOST}",
            "critical",
            vhost=VHOST,
            queue=queue,
        )
    ]
    expected: Expected = [
        ("14m45s", rule["alert"], []),
        ("15m", rule["alert"], firing),
        ("1h", rule["alert"], firing),
    ]
    unconsumed = _fleet(
        {
            (READY, queue): ready,
            (MESSAGES, queue): ready,
            (CONSUMERS, queue): _values((0, HOURS)),
        }
    )
    evaluate(unconsumed, expected)
    consumed = _fleet({(READY, queue): ready, (MESSAGES, queue): ready})
    evaluate(consumed, [("1h", rule["alert"], [])])


def test_near_full_alarms_at_the_threshold(rule_file: Path, evaluate: Evaluate) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqWorkerQueueNearFull"]
    queue = WORKERS[0]
    filling = _values((THRESHOLD - 1, 10), (THRESHOLD, HOURS - 10))
    firing = [
        _firing(
            rule,
            f"{THRESHOLD} of {MAX_LENGTH} ready tasks in {queue} of vhost {VHOST}",
            "warning",
            vhost=VHOST,
            queue=queue,
        )
    ]
    evaluate(
        _fleet({(READY, queue): filling, (MESSAGES, queue): filling}),
        [
            ("9m45s", rule["alert"], []),
            ("10m45s", rule["alert"], []),
            ("11m", rule["alert"], firing),
        ],
    )


def test_a_node_down_alarms_after_two_minutes(rule_file: Path, evaluate: Evaluate) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqEndpointDown"]
    firing = [
        _firing(
            rule,
            f"{INSTANCE} does not answer Prometheus's scrape",
            "critical",
            job=JOB,
            instance=INSTANCE,
            vhost=VHOST,
        )
    ]
    evaluate(
        _fleet(up=_values((1, 10), (0, 60))),
        [("11m45s", rule["alert"], []), ("12m", rule["alert"], firing)],
    )


def test_a_job_without_nodes_alarms_after_two_minutes(rule_file: Path, evaluate: Evaluate) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqEndpointMissing"]
    firing = [
        _firing(rule, f"Prometheus scrapes no node for job {JOB}", "critical", job=JOB, vhost=VHOST)
    ]
    evaluate(
        _fleet(up=None),
        [
            ("1m45s", rule["alert"], []),
            ("2m", rule["alert"], firing),
            ("1h", rule["alert"], firing),
        ],
    )


def test_an_unreported_kept_queue_is_named(rule_file: Path, evaluate: Evaluate) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqKeptQueueNotReported"]
    firing = [
        _firing(
            rule,
            f"no node reports {DEAD_LETTER} of vhost {VHOST}",
            "critical",
            job=JOB,
            vhost=VHOST,
            queue=DEAD_LETTER,
        )
    ]
    evaluate(
        _fleet(unreported=(DEAD_LETTER,)),
        [("1m45s", rule["alert"], []), ("2m", rule["alert"], firing)],
    )


@pytest.mark.parametrize(
    ("unreported", "labels"),
    [(WORKERS[2:], {"vhost": VHOST}), (WORKERS, {"job": JOB, "vhost": VHOST})],
    ids=["one-missing", "all-missing"],
)
def test_unreported_worker_queues_alarm(
    rule_file: Path, evaluate: Evaluate, unreported: tuple[str, ...], labels: dict[str, str]
) -> None:
    rule = _rules(rule_file)["MlQueuesRabbitMqWorkerQueuesNotReported"]
    summary = f"fewer than {len(WORKERS)} worker queues of vhost {VHOST} are reported"
    firing = [_firing(rule, summary, "critical", **labels)]
    evaluate(
        _fleet(unreported=unreported),
        [("1m45s", rule["alert"], []), ("2m", rule["alert"], firing)],
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_rule_file_is_valid(
    promtool: str, synth_dir: Path, tmp_path: Path, env: str
) -> None:
    args = [str(synth_dir / "stacks" / env), "--output-dir", str(tmp_path)]
    assert rabbitmq_alerts.main(args) == 0
    _promtool(promtool, "check", "rules", str(tmp_path / f"{env}.rules.yml"), cwd=tmp_path)


@pytest.mark.parametrize(
    "vhost",
    ['ml "dev" {{ x }}', "ml-queues-\N{GRINNING FACE}", "ml\\queues dev"],
    ids=["quote-and-braces", "astral-plane", "backslash"],
)
def test_any_allowed_vhost_gives_valid_rules(
    promtool: str, stack_json: dict[str, dict[str, Any]], tmp_path: Path, vhost: str
) -> None:
    """config/*.toml allows any UTF-8 vhost without control characters; each must give a rule
    file Prometheus loads (PromQL strings, Go templates)."""
    found = dataclasses.replace(topology(stack_json["dev"]), vhost=vhost)
    props = load_environment(CONFIG_DIR, "dev").backends["rabbitmq"]
    assert props is not None
    path = tmp_path / "dev.rules.yml"
    rules = alert_rules("dev", found, dataclasses.replace(props, vhost=vhost))
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    _promtool(promtool, "check", "rules", str(path), cwd=tmp_path)
