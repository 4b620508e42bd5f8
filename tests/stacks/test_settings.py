"""Every class of bad config gives one clear error naming file, key, value and what is allowed."""

from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import (
    ENVIRONMENTS,
    NAME_SUFFIX,
    RENAMED,
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


def _prod(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as prod must have it: saying where alarms go ("none", on purpose, here)."""
    data = copy.deepcopy(data)
    for table in ("sqs", "pubsub"):
        data[table]["alarm_target"] = "none"
    return data


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
    assert settings.backends["sqs"] is not None
    queue = settings.backends["sqs"].queue
    assert (queue.delay_seconds, queue.max_message_size) == (90, 262144)
    assert queue.message_retention_seconds == 86400
    assert queue.receive_wait_time_seconds == 10
    assert settings.max_task_duration_seconds == 30
    assert settings.prevent_destroy is False
    assert settings.state == LocalState(path="terraform.dev.tfstate")
    assert (
        settings.backends["rabbitmq"] is not None and settings.backends["rabbitmq"].endpoint is None
    )
    assert settings.backends["rabbitmq"].queue_type == "quorum"
    assert settings.backends["rabbitmq"].dead_letter
    assert settings.backends["rabbitmq"].effective_delivery_limit == 20
    assert settings.backends["rabbitmq"].min_broker_version == "4.0"
    assert settings.backends["rabbitmq"].consumer_timeout_policy


def test_the_environment_sets_each_backend_s_worker_count_and_task_duration() -> None:
    """One key in the file, mapped onto every backend's own field by the loader."""
    settings = parse_environment(
        "dev", _with("max_task_duration_seconds", 300), source="config/dev.toml"
    )
    assert settings.backends["sqs"] is not None and settings.backends["pubsub"] is not None
    assert settings.backends["rabbitmq"] is not None
    assert settings.backends["sqs"].queue.visibility_timeout_seconds == 300
    assert settings.backends["pubsub"].ack_deadline_seconds == 300
    assert settings.backends["rabbitmq"].consumer_timeout_seconds == 300
    assert (
        settings.backends["sqs"].workers
        == settings.backends["pubsub"].workers
        == settings.backends["rabbitmq"].workers
        == 3
    )


def test_prod_protects_its_queues_unless_told_otherwise() -> None:
    assert parse_environment("prod", _prod(VALID), source="config/prod.toml").prevent_destroy
    unprotected = _prod(_with("prevent_destroy", False))
    assert not parse_environment("prod", unprotected, source="config/prod.toml").prevent_destroy


def test_brokers_older_than_3_12_get_no_consumer_timeout_policy() -> None:
    settings = parse_environment(
        "dev", _with("rabbitmq.min_broker_version", "3.11.28"), source="config/dev.toml"
    )
    assert settings.backends["rabbitmq"] is not None
    assert settings.backends["rabbitmq"].min_broker_version == "3.11.28"
    assert not settings.backends["rabbitmq"].consumer_timeout_policy


def test_classic_queues_take_no_delivery_limit() -> None:
    data = _with("rabbitmq.queue_type", "classic")
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert (
        settings.backends["rabbitmq"] is not None
        and settings.backends["rabbitmq"].effective_delivery_limit is None
    )
    data["rabbitmq"]["delivery_limit"] = 5
    assert _error(data) == (
        "config/dev.toml: rabbitmq.delivery_limit = 5 is not allowed; expected it unset with"
        " queue_type = 'classic': classic queues do not count deliveries"
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
    # Five receives of twelve hours each outlast the default day of retention.
    data["sqs"]["message_retention_seconds"] = 1_209_600
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
        ("pubsub.oldest_message_alarm_seconds", 59, "from 60 to 2678400"),
        ("rabbitmq.delivery_limit", 0, "rabbitmq.delivery_limit = 0 is not allowed"),
        ("rabbitmq.message_ttl_seconds", 0, "expected an integer from 1 to 4294967"),
        ("rabbitmq.max_length", 0, "expected an integer >= 1"),
        ("workers", -3, "workers = -3 is not allowed; expected an integer from 1 to 1000"),
        ("workers", 1001, "expected an integer from 1 to 1000 (the reach this design is"),
    ],
)
def test_values_out_of_the_cloud_range(path: str, value: int, expected: str) -> None:
    message = _error(_with(path, value))
    assert message.startswith("config/dev.toml: ")
    assert expected in message


def test_worker_inside_a_word_of_a_suffix_covers_nobody() -> None:
    """`mlTrainingQueue-dev-worker-*` covers `dev-worker…` suffixes only when `worker` is a
    whole segment: `dev-workers` and `coworker` give names that pattern does not match."""
    assert [NAME_SUFFIX.allows(v) for v in ("dev-workers", "coworker", "workers-2", "prod")] == [
        True
    ] * 4


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("name_suffix", "Dev", "name_suffix = 'Dev' is not allowed; expected 1 to 32 lowercase"),
        ("name_suffix", "-dev", "name_suffix = '-dev'"),
        # Its queues `mlTrainingQueue-dev-worker-1-...` would be under dev's producer grant.
        (
            "name_suffix",
            "dev-worker-1",
            "name_suffix = 'dev-worker-1' is not allowed; expected 1 to 32 lowercase letters,"
            " digits and hyphens, not starting or ending with a hyphen, without 'worker' between"
            " hyphens (another environment's '<name>-worker-*' grants would cover its queues)",
        ),
        ("name_suffix", "staging-worker", "name_suffix = 'staging-worker' is not allowed"),
        ("name_suffix", "worker", "name_suffix = 'worker' is not allowed"),
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
        ("sqs.kms_key", "my-key", "expected a KMS key ID, key ARN, alias name"),
        ("sqs.alarm_target", "alarms", "expected an SNS topic ARN"),
        ("sqs.producer", "a b", "expected an IAM role name"),
        ("sqs.worker_template", "ml-worker", "expected an IAM role name containing"),
        ("pubsub.kms_key", "key", "expected a Cloud KMS key name"),
        (
            "pubsub.alarm_target",
            "projects/p/channels/1",
            "expected a Cloud Monitoring notification channel",
        ),
        ("pubsub.producer", "producer@x.com", "expected an IAM member such as"),
        (
            "pubsub.worker_template",
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
        ("workers", True, "workers = true has the wrong type; expected an integer"),
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
        ("workers", "workers is missing; expected an integer from 1 to 1000"),
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
        ("wrokers", "wrokers is not a known setting; did you mean workers?"),
        ("nothing_like_it", "nothing_like_it is not a known setting; allowed here: "),
        (
            "sqs.delay",
            "sqs.delay is not a known setting; allowed here: alarm_email, alarm_target, alarms,",
        ),
    ],
)
def test_unknown_keys(path: str, expected: str) -> None:
    assert _error(_with(path, 1)).startswith(f"config/dev.toml: {expected}")


def _renamed(path: str, new: str) -> dict[str, Any]:
    """VALID with the key at dotted `path` written as `new` (same place, same value)."""
    data = copy.deepcopy(VALID)
    *parents, key = path.split(".")
    table = data
    for parent in parents:
        table = table[parent]
    table[new] = table.pop(key)
    return data


@pytest.mark.parametrize(
    ("path", "typo", "expected"),
    [
        # A typo of a required key: named first, not answered "sqs.region is missing".
        ("sqs.region", "regoin", "sqs.regoin is not a known setting; did you mean region?"),
        ("workers", "worker", "worker is not a known setting; did you mean workers?"),
        ("state.backend", "backnd", "state.backnd is not a known setting; did you mean backend?"),
        # A table, called one, before "pubsub is missing".
        ("pubsub", "pub_sub", "[pub_sub] is not a known table; did you mean [pubsub]?"),
        ("rabbitmq", "rabbit", "[rabbit] is not a known table; did you mean [rabbitmq]?"),
    ],
)
def test_a_typo_is_named_with_the_key_it_is_nearest(path: str, typo: str, expected: str) -> None:
    assert _error(_renamed(path, typo)) == f"config/dev.toml: {expected}"


def test_an_unknown_table_is_called_a_table_and_the_known_ones_listed() -> None:
    assert _error(_with("kafka", {"enabled": True})) == (
        "config/dev.toml: [kafka] is not a known table; known tables: [pubsub], [rabbitmq],"
        " [sqs], [state]"
    )
    assert _error(_with("sqs.queue", {"fifo": True})) == (
        "config/dev.toml: [sqs.queue] is not a known table; [sqs] holds settings only"
    )


def test_a_typo_deep_down_is_named_before_any_other_error() -> None:
    """Every table's keys are checked before any value: a typo in [rabbitmq] comes before
    a bad value at the top and a missing key in [sqs]."""
    data = _renamed("rabbitmq.vhost", "vhots")
    data["workers"] = -3
    del data["sqs"]["region"]
    assert _error(data) == (
        "config/dev.toml: rabbitmq.vhots is not a known setting; did you mean vhost?"
    )


def test_a_state_key_of_another_backend_lists_what_this_one_takes() -> None:
    """`bucket` is no typo of `backend`: nothing close is suggested, the keys are listed."""
    assert _error(_with("state.bucket", "b-1")) == (
        "config/dev.toml: state.bucket is not a known setting; allowed here: backend, path"
    )


@pytest.mark.parametrize("workers", [-3, 0])
def test_a_count_too_low_is_not_answered_with_the_reason_for_the_upper_bound(
    workers: int,
) -> None:
    assert _error(_with("workers", workers)) == (
        f"config/dev.toml: workers = {workers} is not allowed; expected an integer from 1 to 1000"
    )
    assert _error(_with("workers", 1001)) == (
        "config/dev.toml: workers = 1001 is not allowed; expected an integer from 1 to 1000 (the"
        " reach this design is measured for; Pub/Sub's 10,000 topics per project, one per"
        " worker, come next)"
    )


def test_a_switched_off_backend_needs_none_of_its_settings() -> None:
    data = copy.deepcopy(VALID)
    data["sqs"] = {"enabled": False}
    data["pubsub"] = {"enabled": False}
    data["rabbitmq"] = {"enabled": False}
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert (
        settings.backends["sqs"],
        settings.backends["pubsub"],
        settings.backends["rabbitmq"],
    ) == (None, None, None)


def test_dead_letter_switches_default_on_and_can_be_turned_off() -> None:
    on = parse_environment("dev", VALID, source="x").backends["sqs"]
    assert on is not None and on.queue.dead_letter and on.queue.dead_letter_sources_only
    data = _with("sqs.dead_letter", False)
    data["sqs"]["dead_letter_sources_only"] = False
    off = parse_environment("dev", data, source="x").backends["sqs"]
    assert off is not None
    assert (off.queue.dead_letter, off.queue.dead_letter_sources_only) == (False, False)
    assert "sqs.dead_letter = 'no' has the wrong type; expected true or false" in _error(
        _with("sqs.dead_letter", "no")
    )


def test_remote_state_settings() -> None:
    s3 = {"backend": "s3", "bucket": "tf-state", "key": "ml/prod.tfstate", "region": "eu-west-1"}
    assert parse_environment("prod", _prod(_with("state", s3)), source="x").state == S3State(
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
    assert settings.backends["sqs"] is not None and settings.backends["pubsub"] is not None
    sqs, pubsub = settings.backends["sqs"], settings.backends["pubsub"]
    queue = sqs.queue
    assert (sqs.shared, queue.enforce_ssl, queue.alarms, queue.fifo) == (True, True, True, False)
    assert (queue.kms_key, sqs.producer, sqs.worker_template) == (None, None, None)
    assert (pubsub.shared, pubsub.dead_letter) == (True, True)
    assert (pubsub.max_delivery_attempts, pubsub.message_retention_seconds) == (5, 604_800)
    assert (pubsub.minimum_backoff_seconds, pubsub.maximum_backoff_seconds) == (10, 600)
    assert (pubsub.exactly_once_delivery, pubsub.message_ordering) == (False, False)
    assert (pubsub.alarms, pubsub.oldest_message_alarm_seconds) == (True, 3600)
    assert pubsub.alarm_target is None


def test_deduplication_needs_fifo() -> None:
    assert _error(_with("sqs.content_based_deduplication", True)) == (
        "config/dev.toml: sqs.content_based_deduplication = true is not allowed; expected"
        " false, or fifo = true: only FIFO queues deduplicate"
    )


def test_backoff_maximum_is_not_below_the_minimum() -> None:
    data = _with("pubsub.minimum_backoff_seconds", 60)
    data["pubsub"]["maximum_backoff_seconds"] = 30
    assert _error(data) == (
        "config/dev.toml: pubsub.maximum_backoff_seconds = 30 is not allowed; expected at least"
        " minimum_backoff_seconds = 60"
    )


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_a_renamed_key_fails_and_names_its_new_spelling(old: str, new: str) -> None:
    """An old config must not silently lose a setting whose key got its common name."""
    table = old.split(".", maxsplit=1)[0]
    assert _error(_with(old, 1)) == (
        f"config/dev.toml: {old} has been renamed; write {table}.{new} instead"
        " (same values, same meaning)"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"sqs.message_retention_seconds": 7200, "sqs.dead_letter_retention_seconds": 3600},
            "sqs.dead_letter_retention_seconds = 3600 is not allowed; expected at least"
            " message_retention_seconds = 7200: a moved task keeps its original enqueue time",
        ),
        (
            {"pubsub.message_retention_seconds": 600, "pubsub.oldest_message_alarm_seconds": 900},
            "pubsub.oldest_message_alarm_seconds = 900 is not allowed; expected at most"
            " message_retention_seconds = 600: no task waits longer, so the alarm could never"
            " fire",
        ),
    ],
)
def test_rules_between_keys_are_checked_when_the_file_is_read(
    values: dict[str, int], expected: str
) -> None:
    """The same rules the constructs hold their props to, reported with file and key."""
    data = copy.deepcopy(VALID)
    for path, value in values.items():
        table, key = path.split(".")
        data[table][key] = value
    assert _error(data) == f"config/dev.toml: {expected}"


def test_a_failing_sqs_task_is_dead_lettered_before_it_expires() -> None:
    """prod's numbers: 600 s of visibility, one day of retention, 90 s of delay."""
    data = _with("max_task_duration_seconds", 600)
    data["sqs"]["max_receive_count"] = 144
    assert _error(data) == (
        "config/dev.toml: sqs.max_receive_count = 144 is not allowed; expected at most 143:"
        " delay_seconds 90 + 144 receives x visibility_timeout_seconds 600"
        " (max_task_duration_seconds) = 86490 s is not below message_retention_seconds = 86400,"
        " so a failing task would expire before SQS moves it to its dead-letter queue"
    )
    data["sqs"]["max_receive_count"] = 143
    assert parse_environment("dev", data, source="config/dev.toml").backends["sqs"] is not None
    data["sqs"].update(max_receive_count=1000, dead_letter=False)
    assert parse_environment("dev", data, source="config/dev.toml").backends["sqs"] is not None


def test_a_failing_pubsub_task_is_dead_lettered_before_it_expires() -> None:
    """Retention may be 600 s while one attempt alone may take the 600 s ack deadline."""
    data = _with("max_task_duration_seconds", 600)
    data["pubsub"].update(message_retention_seconds=600, oldest_message_alarm_seconds=600)
    assert _error(data) == (
        "config/dev.toml: pubsub.max_delivery_attempts = 5 is not allowed; expected a longer"
        " message_retention_seconds or a shorter maximum_backoff_seconds, as no count from 5"
        " fits: 5 attempts x ack_deadline_seconds 600 (max_task_duration_seconds) + 4 x"
        " maximum_backoff_seconds 600 = 5400 s is not below message_retention_seconds = 600,"
        " so a failing task could expire before Pub/Sub forwards it to the dead-letter topic"
    )
    data["pubsub"].update(message_retention_seconds=7200, max_delivery_attempts=7)
    assert _error(data).startswith(
        "config/dev.toml: pubsub.max_delivery_attempts = 7 is not allowed; expected at most 6:"
        " 7 attempts x ack_deadline_seconds 600 (max_task_duration_seconds) + 6 x"
        " maximum_backoff_seconds 600 = 7800 s"
    )
    data["pubsub"]["max_delivery_attempts"] = 6
    assert parse_environment("dev", data, source="config/dev.toml").backends["pubsub"] is not None
    data["pubsub"].update(max_delivery_attempts=100, dead_letter=False)
    assert parse_environment("dev", data, source="config/dev.toml").backends["pubsub"] is not None


@pytest.mark.parametrize("table", ["sqs", "pubsub"])
def test_an_own_destination_needs_an_address_and_an_address_needs_one(table: str) -> None:
    data = _with(f"{table}.alarm_target", "own")
    assert _error(data) == (
        f"config/dev.toml: {table}.alarm_email is missing; expected an email address such as"
        " 'oncall@example.com' with alarm_target = 'own': the stack's own destination must tell"
        " someone"
    )
    data[table]["alarm_email"] = "oncall@example.com"
    assert parse_environment("dev", data, source="config/dev.toml")
    data[table]["alarm_target"] = "none"
    assert _error(data) == (
        f"config/dev.toml: {table}.alarm_email = 'oncall@example.com' is not allowed; expected it"
        " unset, or alarm_target = 'own': only the stack's own destination is subscribed here"
    )


def test_rules_of_a_switched_off_backend_are_not_applied() -> None:
    data = _with("sqs.content_based_deduplication", True)
    data["sqs"]["enabled"] = False
    assert parse_environment("dev", data, source="config/dev.toml").backends["sqs"] is None


def _load_bytes(tmp_path: Path, content: bytes) -> str | None:
    """The one-line error for a dev.toml holding `content`, or None when it loads."""
    (tmp_path / "dev.toml").write_bytes(content)
    try:
        load_environment(tmp_path, "dev")
    except ConfigError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"workers = 3\n\xff\xfe",
            "config/dev.toml: not UTF-8 text (byte 12); TOML files are UTF-8",
        ),
        (b"x = " + b"[" * 100_000, "config/dev.toml: not valid TOML: "),
        (b'"a\nb" = 1', "config/dev.toml: not valid TOML: "),
        (
            b'"a\\nb" = 1\n' + (PROJECT_CONFIG / "dev.toml").read_bytes(),
            "config/dev.toml: 'a\\nb' is not a known setting; allowed here: ",
        ),
        (b"name_suffix = 1979-05-27", "config/dev.toml: name_suffix = datetime.date(1979, 5, 27)"),
        (b'name_suffix = "' + b"x" * 500 + b'"', "config/dev.toml: name_suffix = 'xxxxxxxx"),
    ],
)
def test_any_bytes_give_one_line_and_no_traceback(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    message = _load_bytes(tmp_path, content)
    assert message is not None and message.startswith(expected)
    assert "\n" not in message and len(message) < 400


def test_random_bytes_and_mangled_configs_never_escape_as_a_traceback(tmp_path: Path) -> None:
    """Whatever a file holds, the loader answers with ConfigError (or loads it): fixed seed,
    so a failure is reproducible."""
    generator = random.Random(20261124)
    valid = (PROJECT_CONFIG / "prod.toml").read_bytes()
    for _ in range(300):
        if generator.random() < 0.5:
            content = bytes(generator.randrange(256) for _ in range(generator.randrange(64)))
        else:
            mangled = bytearray(valid)
            for _ in range(generator.randrange(1, 6)):
                mangled[generator.randrange(len(mangled))] = generator.randrange(256)
            content = bytes(mangled)
        message = _load_bytes(tmp_path, content)
        assert message is None or ("\n" not in message and message.startswith("config/dev.toml: "))


def test_a_folder_where_the_file_should_be_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").mkdir()
    with pytest.raises(ConfigError, match=r"^config/dev.toml: cannot be read: Is a directory$"):
        load_environment(tmp_path, "dev")


def test_high_throughput_fifo_from_the_config_file() -> None:
    data = _with("sqs.fifo", True)
    data["sqs"]["deduplication_scope"] = "messageGroup"
    data["sqs"]["fifo_throughput_limit"] = "perMessageGroupId"
    sqs = parse_environment("dev", data, source="config/dev.toml").backends["sqs"]
    assert sqs is not None
    assert (sqs.queue.deduplication_scope, sqs.queue.fifo_throughput_limit) == (
        "messageGroup",
        "perMessageGroupId",
    )
    del data["sqs"]["deduplication_scope"]
    assert _error(data) == (
        "config/dev.toml: sqs.fifo_throughput_limit = 'perMessageGroupId' is not allowed;"
        " expected deduplication_scope = 'messageGroup' with it, as SQS requires"
    )


@pytest.mark.parametrize("table", ["sqs", "pubsub"])
def test_prod_must_say_where_alarms_go(table: str) -> None:
    """Unset, a dead letter would wait unseen; "none" is allowed only when said."""
    data = copy.deepcopy(VALID)
    data["sqs"]["alarm_target"] = "none"
    data["pubsub"]["alarm_target"] = "none"
    assert parse_environment("prod", data, source="config/prod.toml").prevent_destroy
    del data[table]["alarm_target"]
    with pytest.raises(ConfigError) as error:
        parse_environment("prod", data, source="config/prod.toml")
    assert str(error.value).startswith(
        f"config/prod.toml: {table}.alarm_target is missing; prod must set it: expected "
    )
    assert str(error.value).endswith(
        ", or 'none'"
        + (" for alarms without actions" if table == "sqs" else " for alerts without notifications")
    )
    assert parse_environment("dev", data, source="config/dev.toml")  # only prod must


def test_a_switched_off_backend_needs_no_alarm_target_in_prod() -> None:
    data = copy.deepcopy(VALID)
    data["sqs"] = {"enabled": False}
    data["pubsub"] = {"enabled": False}
    assert parse_environment("prod", data, source="config/prod.toml").backends["sqs"] is None


def test_an_sqs_alarm_that_could_never_fire_is_refused() -> None:
    """SQS deletes a task at its retention age: an alarm on an older task never fires."""
    data = _with("sqs.message_retention_seconds", 600)
    data["sqs"]["oldest_message_alarm_seconds"] = 600
    assert _error(data) == (
        "config/dev.toml: sqs.oldest_message_alarm_seconds = 600 is not allowed; expected less"
        " than message_retention_seconds = 600: SQS deletes a task at that age, so the alarm"
        " would never fire before the task is gone"
    )
    data["sqs"]["alarms"] = False
    assert parse_environment("dev", data, source="config/dev.toml").backends["sqs"] is not None


def test_an_sqs_alarm_that_a_quiet_queue_would_hide_is_refused() -> None:
    """SQS reports a queue for six hours after the last call: a task sent to a queue nobody
    polls is never seen older."""
    data = _with("sqs.oldest_message_alarm_seconds", 21_600)
    assert _error(data) == (
        "config/dev.toml: sqs.oldest_message_alarm_seconds = 21600 is not allowed; expected less"
        " than 21600 (six hours): CloudWatch stops reporting a queue six hours after the last"
        " call on it, so a task in a queue nobody polls would never be seen older than that"
    )
    data["sqs"]["oldest_message_alarm_seconds"] = 21_599
    assert parse_environment("dev", data, source="config/dev.toml").backends["sqs"] is not None


def _rabbitmq_with(**keys: str) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data["rabbitmq"].update(keys)
    return data


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"password_store": "ssm"},
            "rabbitmq.password_region is missing; expected an AWS region code such as"
            " 'eu-west-1' with password_store = 'ssm': the region of the password parameters",
        ),
        (
            {"producer": "ml-producer"},
            "rabbitmq.producer = 'ml-producer' is not allowed; expected it unset unless"
            " password_store = 'ssm': a password in a Terraform variable has nothing a role"
            " could be granted",
        ),
        (
            {"password_store": "variables", "worker_template": "ml-worker-{worker}"},
            "rabbitmq.worker_template = 'ml-worker-{worker}' is not allowed; expected it"
            " unset unless password_store = 'ssm'",
        ),
        (
            {"password_store": "vault"},
            "rabbitmq.password_store = 'vault' is not allowed; expected 'ssm' or 'variables'",
        ),
        (
            {"password_store": "ssm", "password_region": "us_east_1"},
            "rabbitmq.password_region = 'us_east_1' is not allowed; expected an AWS region",
        ),
    ],
)
def test_rabbitmq_password_keys_are_one_line_naming_file_and_key(
    keys: dict[str, str], expected: str
) -> None:
    message = _error(_rabbitmq_with(**keys))
    assert message.startswith(f"config/dev.toml: {expected}")
    assert "\n" not in message


def test_rabbitmq_passwords_come_from_variables_unless_the_config_says_ssm() -> None:
    settings = parse_environment("dev", VALID, source="config/dev.toml")
    assert settings.backends["rabbitmq"] is not None
    assert settings.backends["rabbitmq"].passwords.password_store == "variables"
    data = _rabbitmq_with(
        password_store="ssm",
        password_region="eu-west-1",
        producer="ml-producer",
        worker_template="ml-worker-{worker}",
    )
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert settings.backends["rabbitmq"] is not None
    passwords = settings.backends["rabbitmq"].passwords
    assert (passwords.password_store, passwords.password_region) == ("ssm", "eu-west-1")
    assert (passwords.producer, passwords.worker_template) == (
        "ml-producer",
        "ml-worker-{worker}",
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_with_rabbitmq_keeps_its_passwords_in_ssm(env: str) -> None:
    settings = load_environment(PROJECT_CONFIG, env)
    assert settings.backends["rabbitmq"] is not None
    assert settings.backends["rabbitmq"].passwords.password_store == "ssm"


def test_local_loads_pubsub_and_rabbitmq_into_emulators_and_deploys_sqs_through_terraform() -> None:
    local = load_environment(PROJECT_CONFIG, "local")
    assert local.deploy == {"sqs": "terraform", "pubsub": "emulator", "rabbitmq": "emulator"}
    assert [key for key, props in local.part("terraform").backends.items() if props] == ["sqs"]
    assert [key for key, props in local.part("emulator").backends.items() if props] == [
        "pubsub",
        "rabbitmq",
    ]
    # Every backend's props are still the environment's, whichever way it goes.
    assert all(props is not None for props in local.backends.values())


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_cloud_environments_deploy_everything_through_terraform(env: str) -> None:
    settings = load_environment(PROJECT_CONFIG, env)
    assert set(settings.deploy.values()) == {"terraform"}
    assert settings.part("terraform").backends == settings.backends
    assert not settings.has_part("emulator")


def test_deploy_is_terraform_or_emulator() -> None:
    assert _error(_with("pubsub.deploy", "cloud")) == (
        "config/dev.toml: pubsub.deploy = 'cloud' is not allowed; expected 'terraform' or"
        " 'emulator'"
    )
    assert _error(_with("rabbitmq.deploy", 1)) == (
        "config/dev.toml: rabbitmq.deploy = 1 has the wrong type; expected a string"
    )


def test_a_backend_without_an_emulator_has_no_deploy_key() -> None:
    """SQS reaches moto through Terraform: there is no loader to hand it to instead."""
    assert _error(_with("sqs.deploy", "emulator")).startswith(
        "config/dev.toml: sqs.deploy is not a known setting; allowed here: "
    )


def test_a_switched_off_backend_s_deploy_key_is_still_checked() -> None:
    data = _with("pubsub.enabled", False)
    data["pubsub"]["deploy"] = "emulater"
    assert "pubsub.deploy = 'emulater' is not allowed" in _error(data)
    data["pubsub"]["deploy"] = "emulator"
    settings = parse_environment("dev", data, source="config/dev.toml")
    assert "pubsub" not in settings.deploy
    assert settings.part("emulator").backends["pubsub"] is None
