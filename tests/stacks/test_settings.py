"""Every class of bad config gives one clear error naming file, key, value and what is allowed."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import (
    ENVIRONMENTS,
    ConfigError,
    GcsState,
    LocalState,
    S3State,
    load_all,
    load_environment,
    parse_environment,
)

PROJECT_CONFIG = Path(__file__).resolve().parent.parent.parent / "config"
VALID: dict[str, Any] = {
    "name_suffix": "dev",
    "workers": 3,
    "state": {"backend": "local", "path": "terraform.dev.tfstate"},
    "sqs": {"enabled": True, "region": "us-east-1"},
    "pubsub": {"enabled": True, "project": "ml-queues-dev"},
    "rabbitmq": {"enabled": True, "vhost": "ml-dev"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """VALID with one dotted key set (or removed, for value=...)."""
    data = copy.deepcopy(VALID)
    *parents, key = path.split(".")
    table = data
    for parent in parents:
        table = table[parent]
    if value is ...:
        del table[key]
    else:
        table[key] = value
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        parse_environment("dev", data, source="config/dev.toml")
    return str(error.value)


def test_valid_config_gives_typed_settings_with_seed_defaults() -> None:
    settings = parse_environment("dev", VALID, source="config/dev.toml")
    assert settings.sqs is not None
    assert (settings.sqs.delay_seconds, settings.sqs.max_message_size) == (90, 262144)
    assert settings.sqs.message_retention_seconds == 86400
    assert settings.sqs.receive_wait_time_seconds == 10
    assert settings.max_task_duration_seconds == 30
    assert settings.prevent_destroy is False
    assert settings.state == LocalState(path="terraform.dev.tfstate")
    assert settings.rabbitmq is not None and settings.rabbitmq.endpoint is None
    assert settings.rabbitmq.queue_type == "quorum"
    assert (settings.rabbitmq.dead_letter, settings.rabbitmq.delivery_limit) == (True, 20)
    assert settings.rabbitmq.min_broker_version == (3, 13)
    assert settings.rabbitmq.consumer_timeout_policy


def test_prod_protects_its_queues_unless_told_otherwise() -> None:
    assert parse_environment("prod", VALID, source="config/prod.toml").prevent_destroy
    unprotected = _with("prevent_destroy", False)
    assert not parse_environment("prod", unprotected, source="config/prod.toml").prevent_destroy


def test_brokers_older_than_3_12_get_no_consumer_timeout_policy() -> None:
    settings = parse_environment(
        "dev", _with("rabbitmq.min_broker_version", "3.11.28"), source="config/dev.toml"
    )
    assert settings.rabbitmq is not None
    assert settings.rabbitmq.min_broker_version == (3, 11, 28)
    assert not settings.rabbitmq.consumer_timeout_policy


def test_classic_queues_take_no_delivery_limit() -> None:
    data = _with("rabbitmq.queue_type", "classic")
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert settings.rabbitmq is not None and settings.rabbitmq.delivery_limit is None
    data["rabbitmq"]["delivery_limit"] = 5
    assert _error(data) == (
        "config/dev.toml: rabbitmq.delivery_limit is only allowed with queue_type = 'quorum';"
        " classic queues do not count deliveries"
    )


@pytest.mark.parametrize(
    ("duration", "backend", "instead"),
    [
        (601, "Pub/Sub's ack deadline (an integer from 10 to 600)", "ModifyAckDeadline"),
        (9, "Pub/Sub's ack deadline (an integer from 10 to 600)", "ModifyAckDeadline"),
    ],
)
def test_task_duration_beyond_a_backend_says_which_and_what_to_do(
    duration: int, backend: str, instead: str
) -> None:
    assert _error(_with("max_task_duration_seconds", duration)) == (
        f"config/dev.toml: max_task_duration_seconds = {duration} is beyond {backend}; set a"
        f" value in range and have workers on longer tasks extend it with {instead} while they"
        " work"
    )


def test_task_duration_is_checked_only_against_enabled_backends() -> None:
    data = _with("max_task_duration_seconds", 43_200)
    data["pubsub"] = {"enabled": False}
    data["rabbitmq"] = {"enabled": False}
    assert parse_environment("dev", data, source="config/dev.toml").max_task_duration_seconds == (
        43_200
    )
    data["max_task_duration_seconds"] = 43_201
    assert "beyond SQS's visibility timeout (an integer from 0 to 43200)" in _error(data)
    assert "ChangeMessageVisibility" in _error(data)


def test_the_project_config_files_load() -> None:
    environments = load_all(PROJECT_CONFIG)
    assert [env.name for env in environments] == list(ENVIRONMENTS)
    assert isinstance(environments[0].state, LocalState)
    by_name = {env.name: env for env in environments}
    assert isinstance(by_name["local"].state, LocalState)
    assert all(isinstance(by_name[env].state, S3State | GcsState) for env in ("staging", "prod"))


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "sqs.delay_seconds",
            901,
            "sqs.delay_seconds = 901 is not allowed; expected an integer from 0 to 900",
        ),
        (
            "sqs.delay_seconds",
            -1,
            "sqs.delay_seconds = -1 is not allowed; expected an integer from 0 to 900",
        ),
        ("sqs.max_message_size", 1023, "from 1024 to 262144"),
        ("sqs.max_message_size", 1_048_576, "sqs.max_message_size = 1048576 is not allowed"),
        ("sqs.message_retention_seconds", 59, "from 60 to 1209600"),
        ("sqs.message_retention_seconds", 1_209_601, "from 60 to 1209600"),
        ("sqs.receive_wait_time_seconds", 21, "from 0 to 20"),
        ("max_task_duration_seconds", 0, "expected an integer >= 1"),
        ("sqs.kms_data_key_reuse_period_seconds", 59, "from 60 to 86400"),
        ("sqs.oldest_message_alarm_seconds", 59, "from 60 to 1209600"),
        ("pubsub.message_retention_seconds", 599, "from 600 to 2678400"),
        ("pubsub.max_delivery_attempts", 101, "from 5 to 100"),
        ("pubsub.minimum_backoff_seconds", 601, "from 0 to 600"),
        ("pubsub.oldest_message_alert_seconds", 59, "from 60 to 2678400"),
        ("rabbitmq.delivery_limit", 0, "rabbitmq.delivery_limit = 0 is not allowed"),
        ("rabbitmq.message_ttl_seconds", 0, "expected an integer from 1 to 4294967"),
        ("rabbitmq.max_length", 0, "expected an integer >= 1"),
        ("workers", 0, "workers = 0 is not allowed; expected an integer >= 1"),
    ],
)
def test_values_out_of_the_cloud_range(path: str, value: int, expected: str) -> None:
    message = _error(_with(path, value))
    assert message.startswith("config/dev.toml: ")
    assert expected in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("name_suffix", "Dev", "name_suffix = 'Dev' is not allowed; expected 1 to 32 lowercase"),
        ("name_suffix", "-dev", "name_suffix = '-dev'"),
        (
            "sqs.region",
            "us_east_1",
            "sqs.region = 'us_east_1' is not allowed; expected an AWS region",
        ),
        (
            "pubsub.project",
            "ML",
            "pubsub.project = 'ML' is not allowed; expected a Google Cloud project ID",
        ),
        ("pubsub.region", "central", "expected a Google Cloud region"),
        ("rabbitmq.vhost", "", "rabbitmq.vhost = '' is not allowed; expected 1 to 255 bytes"),
        ("rabbitmq.queue_type", "stream", "expected 'quorum' or 'classic'"),
        ("sqs.kms_key_id", "my-key", "expected a KMS key ID, key ARN, alias name"),
        ("sqs.alarm_topic_arn", "alarms", "expected an SNS topic ARN"),
        ("sqs.producer_role", "a b", "expected an IAM role name"),
        ("sqs.worker_role_template", "ml-worker", "expected an IAM role name containing"),
        ("pubsub.kms_key_name", "key", "expected a Cloud KMS key name"),
        (
            "pubsub.alert_notification_channel",
            "projects/p/channels/1",
            "expected a Cloud Monitoring notification channel",
        ),
        ("pubsub.producer_member", "producer@x.com", "expected an IAM member such as"),
        (
            "pubsub.worker_member_template",
            "serviceAccount:w@x.com",
            "expected an IAM member containing '{worker}'",
        ),
        ("rabbitmq.min_broker_version", "4", "expected a RabbitMQ version such as '3.13'"),
        ("rabbitmq.endpoint", "http://admin:hunter2@mq:15672", "without credentials"),
        (
            "sqs.endpoint",
            "127.0.0.1:4566",
            "sqs.endpoint = '127.0.0.1:4566' is not allowed; expected an http(s) URL",
        ),
        (
            "state.path",
            "/abs/dev.tfstate",
            "state.path = '/abs/dev.tfstate' is not allowed; expected a relative path",
        ),
        ("state.path", "../outside.tfstate", "expected a relative path"),
        (
            "state.backend",
            "consul",
            "state.backend = 'consul' is not allowed; expected 'local', 's3' or 'gcs'",
        ),
    ],
)
def test_invalid_names_and_choices(path: str, value: str, expected: str) -> None:
    message = _error(_with(path, value))
    assert message.startswith("config/dev.toml: ")
    assert expected in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("workers", "3", "workers = '3' has the wrong type; expected an integer"),
        ("workers", True, "workers = True has the wrong type; expected an integer"),
        ("sqs.enabled", "yes", "sqs.enabled = 'yes' has the wrong type; expected true or false"),
        (
            "sqs.delay_seconds",
            1.5,
            "sqs.delay_seconds = 1.5 has the wrong type; expected an integer",
        ),
        ("sqs", "on", "sqs = 'on' is not a table; expected a [sqs] table"),
    ],
)
def test_wrong_types(path: str, value: Any, expected: str) -> None:
    assert _error(_with(path, value)) == f"config/dev.toml: {expected}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("workers", "workers is missing; expected an integer >= 1"),
        ("sqs.region", "sqs.region is missing; expected an AWS region code"),
        ("rabbitmq", "rabbitmq is missing; expected a [rabbitmq] table"),
        ("state.path", "state.path is missing; expected a relative path"),
    ],
)
def test_missing_keys(path: str, expected: str) -> None:
    assert _error(_with(path, ...)).startswith(f"config/dev.toml: {expected}")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("wrokers", "wrokers is not a known setting; allowed here: "),
        ("sqs.delay", "sqs.delay is not a known setting; allowed here: alarm_topic_arn, alarms,"),
    ],
)
def test_unknown_keys(path: str, expected: str) -> None:
    assert _error(_with(path, 1)).startswith(f"config/dev.toml: {expected}")


def test_a_switched_off_backend_needs_none_of_its_settings() -> None:
    data = copy.deepcopy(VALID)
    data["sqs"] = {"enabled": False}
    data["pubsub"] = {"enabled": False}
    data["rabbitmq"] = {"enabled": False}
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert (settings.sqs, settings.pubsub, settings.rabbitmq) == (None, None, None)


def test_dead_letter_switches_default_on_and_can_be_turned_off() -> None:
    on = parse_environment("dev", VALID, source="x").sqs
    assert on is not None and on.dead_letter_queue and on.dead_letter_sources_only
    data = _with("sqs.dead_letter_queue", False)
    data["sqs"]["dead_letter_sources_only"] = False
    off = parse_environment("dev", data, source="x").sqs
    assert off is not None
    assert (off.dead_letter_queue, off.dead_letter_sources_only) == (False, False)
    assert "sqs.dead_letter_queue = 'no' has the wrong type; expected true or false" in _error(
        _with("sqs.dead_letter_queue", "no")
    )


def test_remote_state_settings() -> None:
    s3 = {"backend": "s3", "bucket": "tf-state", "key": "ml/prod.tfstate", "region": "eu-west-1"}
    assert parse_environment("prod", _with("state", s3), source="x").state == S3State(
        bucket="tf-state", key="ml/prod.tfstate", region="eu-west-1"
    )
    assert "state.prefix is missing" in _error(_with("state", {"backend": "gcs", "bucket": "b-1"}))


def _config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(PROJECT_CONFIG, target)
    return target


def test_missing_file(tmp_path: Path) -> None:
    config = _config_dir(tmp_path)
    (config / "staging.toml").unlink()
    with pytest.raises(
        ConfigError,
        match=r"^config/staging.toml: file not found in .*"
        r"every environment \(dev, staging, prod, local\) needs one$",
    ):
        load_all(config)


def test_not_toml(tmp_path: Path) -> None:
    config = _config_dir(tmp_path)
    (config / "dev.toml").write_text("workers = \n")
    with pytest.raises(ConfigError, match=r"^config/dev.toml: not valid TOML: "):
        load_environment(config, "dev")


def test_a_file_for_an_unknown_environment(tmp_path: Path) -> None:
    config = _config_dir(tmp_path)
    shutil.copy(config / "prod.toml", config / "prd.toml")
    with pytest.raises(
        ConfigError,
        match=r"^config/prd.toml: not a known environment; "
        r"expected one of dev.toml, staging.toml, prod.toml, local.toml$",
    ):
        load_all(config)


@pytest.mark.parametrize(
    ("line", "replacement", "expected"),
    [
        (
            'name_suffix = "staging"',
            'name_suffix = "dev"',
            "name_suffix = 'dev' is already used by config/dev.toml",
        ),
        (
            'vhost = "ml-queues-staging"',
            'vhost = "ml-queues-dev"',
            "rabbitmq.vhost = 'ml-queues-dev' is already used by config/dev.toml",
        ),
        (
            'key = "ml-queues/prod.tfstate"',
            'key = "ml-queues/staging.tfstate"',
            "config/prod.toml: state = S3State(",
        ),
    ],
)
def test_environments_never_share_names_vhosts_or_state(
    tmp_path: Path, line: str, replacement: str, expected: str
) -> None:
    config = _config_dir(tmp_path)
    for path in config.glob("*.toml"):
        path.write_text(path.read_text().replace(line, replacement))
    with pytest.raises(ConfigError) as error:
        load_all(config)
    assert expected in str(error.value)
    assert str(error.value).endswith("each environment needs its own")


def test_new_backend_settings_default_to_the_safe_choice() -> None:
    settings = parse_environment("dev", VALID, source="config/dev.toml")
    assert settings.sqs is not None and settings.pubsub is not None
    sqs, pubsub = settings.sqs, settings.pubsub
    assert (sqs.shared_queue, sqs.enforce_ssl, sqs.alarms, sqs.fifo) == (True, True, True, False)
    assert (sqs.kms_key_id, sqs.producer_role, sqs.worker_role_template) == (None, None, None)
    assert (pubsub.shared_subscription, pubsub.dead_letter) == (True, True)
    assert (pubsub.max_delivery_attempts, pubsub.message_retention_seconds) == (5, 604_800)
    assert (pubsub.minimum_backoff_seconds, pubsub.maximum_backoff_seconds) == (10, 600)
    assert (pubsub.exactly_once_delivery, pubsub.message_ordering) == (False, False)
    assert (pubsub.alerts, pubsub.oldest_message_alert_seconds) == (True, 3600)
    assert pubsub.alert_notification_channel is None


def test_deduplication_needs_fifo() -> None:
    assert _error(_with("sqs.content_based_deduplication", True)) == (
        "config/dev.toml: sqs.content_based_deduplication = true needs fifo = true"
    )


def test_backoff_maximum_is_not_below_the_minimum() -> None:
    data = _with("pubsub.minimum_backoff_seconds", 60)
    data["pubsub"]["maximum_backoff_seconds"] = 30
    assert _error(data) == (
        "config/dev.toml: pubsub.maximum_backoff_seconds = 30 is below minimum_backoff_seconds = 60"
    )
