"""The alerting rules and scrape job follow the stack and the `[rabbitmq]` settings.

Why: an alert that selects another job, misses a queue or waits longer than the setting says
stays silent exactly when someone should be told; whether Prometheus fires them on time is
tests/integration/test_prometheus_rules.py's part (promtool), what they say is this file's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from constructs_lib.rabbitmq.alarms import Topology
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from stacks.settings import ConfigError, EnvironmentSettings, common_tags, load_environment
from tests.synth_helpers import environment, synth_settings
from tools import rabbitmq_alerts
from tools.operator_input import OperatorError
from tools.rabbitmq_alerts import alert_rules, job_name, scrape_job, topology

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"
RABBITMQ_ENVIRONMENTS = ("dev", "staging", "prod")
DEV = Topology(
    vhost="ml-queues-dev",
    worker_pattern="^worker_queue_[0-9]+$",
    workers=3,
    dead_letter_queue="ml_tasks.dead_letter",
    unroutable_queue="ml_tasks.unroutable",
    max_length=None,
)
ALWAYS = {
    f"MlQueuesRabbitMq{name}"
    for name in (
        "DeadLetterWaiting",
        "UnroutableTaskKept",
        "WorkerQueueUnconsumed",
        "EndpointDown",
        "EndpointMissing",
        "KeptQueueNotReported",
        "WorkerQueuesNotReported",
        "QueueReportedTwice",
    )
}
NEAR_FULL = "MlQueuesRabbitMqWorkerQueueNearFull"


def _dev_with(**rabbitmq: Any) -> EnvironmentSettings:
    """dev's configuration with some `[rabbitmq]` keys set, as if written in config/dev.toml."""
    return environment("dev", rabbitmq=rabbitmq)


def _props(settings: EnvironmentSettings) -> RabbitMqTaskExchangeProps:
    props = settings.props(RabbitMqTaskExchangeProps)
    assert props is not None
    return props


def _rules(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [group] = document["groups"]
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert len(rules) == len(group["rules"]), "two rules share an alert name"
    return rules


def test_dev_topology_comes_from_the_stack(stack_json: dict[str, dict[str, Any]]) -> None:
    assert topology(stack_json["dev"]) == DEV


def test_a_stack_without_rabbitmq_is_refused(stack_json: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(OperatorError, match="no RabbitMQ part"):
        topology(stack_json["local"])


@pytest.mark.parametrize(
    ("max_length", "percent", "threshold"),
    [(100, None, 90), (7, 95, 7)],
    ids=["default-percent", "rounded-up"],
)
def test_a_max_length_brings_a_near_full_rule(
    max_length: int, percent: int | None, threshold: int
) -> None:
    """Rounded up: below the share of `max_length` nobody is paged, at it someone is."""
    percent_key = {} if percent is None else {"max_length_alarm_percent": percent}
    settings = _dev_with(max_length=max_length, **percent_key)
    found = topology(synth_settings(settings))
    assert found == dataclasses.replace(DEV, max_length=max_length)
    rules = _rules(alert_rules("dev", found, _props(settings)))
    assert set(rules) == {*ALWAYS, NEAR_FULL}
    near_full = rules[NEAR_FULL]
    assert near_full["expr"].endswith(f" >= {threshold}")
    assert 'queue=~"^worker_queue_[0-9]+$"' in near_full["expr"]
    assert near_full["for"] == "1m"


def test_without_a_max_length_no_near_full_rule() -> None:
    assert set(_rules(alert_rules("dev", DEV, _props(_dev_with())))) == ALWAYS


@pytest.mark.parametrize("env", RABBITMQ_ENVIRONMENTS)
def test_every_rule_selects_its_job_and_carries_the_env_labels(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    found = topology(stack_json[env])
    rules = _rules(alert_rules(env, found, _props(load_environment(CONFIG_DIR, env))))
    assert job_name(env) == f"ml-queues-rabbitmq-{env}"
    for name, rule in rules.items():
        assert f'job="ml-queues-rabbitmq-{env}"' in rule["expr"], name
        labels = rule["labels"]
        # `up` has no vhost: those rules name it in a label instead.
        assert f'vhost="{found.vhost}"' in rule["expr"] or labels["vhost"] == found.vhost, name
        assert labels.items() >= common_tags(env).items(), name
        assert labels["severity"] in ("warning", "critical"), name
        assert set(rule["annotations"]) == {"summary", "description"}, name


def test_unconsumed_waits_as_long_as_the_setting() -> None:
    rules = _rules(alert_rules("dev", DEV, _props(_dev_with(unconsumed_alarm_seconds=900))))
    assert rules["MlQueuesRabbitMqWorkerQueueUnconsumed"]["for"] == "900s"
    default = _rules(alert_rules("dev", DEV, _props(_dev_with())))
    assert default["MlQueuesRabbitMqWorkerQueueUnconsumed"]["for"] == "300s"


def test_the_rules_do_not_grow_with_the_workers() -> None:
    """One pattern for every worker queue: a thousand workers are watched by as many rules,
    as long, as three."""
    props = _props(_dev_with())
    few = alert_rules("dev", DEV, props)
    many = alert_rules("dev", dataclasses.replace(DEV, workers=1000), props)
    assert set(_rules(many)) == set(_rules(few))
    reported = _rules(many)["MlQueuesRabbitMqWorkerQueuesNotReported"]["expr"]
    assert ") < 1000 or absent(" in reported


def test_an_odd_vhost_is_quoted_in_promql_and_literal_in_labels() -> None:
    vhost = 'ml "dev" {{ $labels.job }}'
    found = dataclasses.replace(DEV, vhost=vhost)
    rules = _rules(alert_rules("dev", found, _props(_dev_with())))
    quoted = r'vhost="ml \"dev\" {{ $labels.job }}"'
    selecting = {name for name, rule in rules.items() if quoted in rule["expr"]}
    assert selecting == {name for name in rules if "Endpoint" not in name}
    literal = r'{{ "ml \"dev\" {{ $labels.job }}" }}'
    labelled = {name for name, rule in rules.items() if "vhost" in rule["labels"]}
    assert labelled == {
        "MlQueuesRabbitMqEndpointDown",
        "MlQueuesRabbitMqEndpointMissing",
        "MlQueuesRabbitMqWorkerQueuesNotReported",
    }
    for name in labelled:
        assert rules[name]["labels"]["vhost"] == literal, name


def test_a_plain_vhost_label_is_left_as_written() -> None:
    rules = _rules(alert_rules("dev", DEV, _props(_dev_with())))
    assert rules["MlQueuesRabbitMqEndpointDown"]["labels"]["vhost"] == "ml-queues-dev"


def test_scrape_job_reads_only_the_environment_vhost_and_three_series() -> None:
    job = scrape_job("dev", DEV)
    assert job["job_name"] == "ml-queues-rabbitmq-dev"
    assert job["metrics_path"] == "/metrics/detailed"
    assert job["params"] == {
        "vhost": ["ml-queues-dev"],
        "family": ["queue_coarse_metrics", "queue_consumer_count"],
    }
    assert job["file_sd_configs"] == [{"files": ["ml-queues-rabbitmq-dev.targets.yml"]}]
    [keep] = job["metric_relabel_configs"]
    assert keep["action"] == "keep"
    assert keep["source_labels"] == ["__name__"]
    assert sorted(keep["regex"].split("|")) == [
        "rabbitmq_detailed_queue_consumers",
        "rabbitmq_detailed_queue_messages",
        "rabbitmq_detailed_queue_messages_ready",
    ]


def test_command_writes_both_files(
    synth_dir: Path,
    stack_json: dict[str, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "alerts"
    args = [str(synth_dir / "stacks" / "dev"), "--output-dir", str(output)]
    assert rabbitmq_alerts.main(args) == 0
    rules, scrape = output / "dev.rules.yml", output / "dev.scrape.yml"
    assert capsys.readouterr().out == f"wrote {rules}\nwrote {scrape}\n"
    found = topology(stack_json["dev"])
    props = _props(load_environment(CONFIG_DIR, "dev"))
    assert yaml.safe_load(rules.read_text()) == alert_rules("dev", found, props)
    assert yaml.safe_load(scrape.read_text()) == {"scrape_configs": [scrape_job("dev", found)]}


def test_command_reads_a_rabbitmq_part_loaded_into_an_emulator(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """local's RabbitMQ part is beside its Terraform stack (`deploy = "emulator"`):
    `make rabbitmq-alerts ENV=local` finds it there."""
    output = tmp_path / "alerts"
    args = [str(synth_dir / "stacks" / "local"), "--output-dir", str(output)]
    assert rabbitmq_alerts.main(args) == 0
    emulated = json.loads((synth_dir / "emulated" / "stacks" / "local" / "cdk.tf.json").read_text())
    found = topology(emulated)
    assert found.vhost == "ml-queues-local"
    props = _props(load_environment(CONFIG_DIR, "local"))
    rules = yaml.safe_load((output / "local.rules.yml").read_text())
    assert rules == alert_rules("local", found, props)


@pytest.fixture
def local_without_rabbitmq(synth_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """local's Terraform stack alone, and a config whose local has RabbitMQ switched off."""
    config = tmp_path / "config"
    config.mkdir()
    for path in CONFIG_DIR.glob("*.toml"):
        (config / path.name).write_text(path.read_text())
    local = config / "local.toml"
    text = local.read_text()
    local.write_text(text.replace("[rabbitmq]\nenabled = true", "[rabbitmq]\nenabled = false"))
    assert local.read_text() != text
    stack = tmp_path / "out" / "stacks" / "local"
    stack.mkdir(parents=True)
    (stack / "cdk.tf.json").write_text((synth_dir / "stacks" / "local" / "cdk.tf.json").read_text())
    return stack, config


@pytest.mark.parametrize(
    ("env", "start"),
    [
        ("local", "error: ENV = 'local' has no RabbitMQ part"),
        ("dve", "error: ENV = 'dve' names no environment"),
    ],
)
def test_command_refuses_in_one_line(
    synth_dir: Path,
    local_without_rabbitmq: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    env: str,
    start: str,
) -> None:
    stack, config = local_without_rabbitmq
    output = config.parent / "alerts"
    stack = stack if env == "local" else synth_dir / "stacks" / env
    args = [str(stack), "--output-dir", str(output), "--config-dir", str(config)]
    assert rabbitmq_alerts.main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(start)
    assert captured.err.count("\n") == 1
    assert not output.exists()


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("unconsumed_alarm_seconds", 30, "expected an integer from 60 to 86400"),
        ("unconsumed_alarm_seconds", 86_401, "expected an integer from 60 to 86400"),
        ("max_length_alarm_percent", 0, "expected an integer from 1 to 100"),
        ("max_length_alarm_percent", 101, "expected an integer from 1 to 100"),
    ],
)
def test_a_bad_alarm_setting_is_one_line(key: str, value: int, allowed: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _dev_with(**{key: value})
    assert (
        str(raised.value) == f"config/dev.toml: rabbitmq.{key} = {value} is not allowed; {allowed}"
    )
