"""Typed settings for each environment, read from `config/<env>.toml` and checked in full.

Why so strict: a config mistake should stop the build with one clear line that names the
file, the key, the value and what is allowed, before anything is written. Unknown keys are
errors too, because a misspelt optional key would otherwise be silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib import limits

# `local` deploys SQS into an emulator on this machine (moto), for the integration tests and
# for trying a deploy without a cloud account.
ENVIRONMENTS = ("dev", "staging", "prod", "local")

# Our own convention, not a cloud limit: short enough for every backend's names once
# appended, and lowercase so it reads the same in all of them.
NAME_SUFFIX = limits.NameRule(
    r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?",
    "1 to 32 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
)
# Relative, inside the project, so the JSON holds no machine-specific path.
LOCAL_STATE_PATH = limits.NameRule(
    r"(?!/)(?!.*\.\.)[A-Za-z0-9._/-]+\.tfstate",
    "a relative path inside the project ending in '.tfstate', without '..'",
)
BROKER_VERSION = limits.NameRule(
    r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?", "a RabbitMQ version such as '3.13' or '3.10.8'"
)
# The `consumer-timeout` policy key exists from RabbitMQ 3.12 on; older brokers reject it.
RABBITMQ_CONSUMER_TIMEOUT_POLICY_SINCE = (3, 12)
IAM_ROLE = limits.NameRule(r"[\w+=,.@-]{1,64}", "an IAM role name: 1 to 64 of A-Z a-z 0-9 +=,.@_-")
# One identity per worker: "{worker}" is replaced with the worker's number.
IAM_ROLE_TEMPLATE = limits.NameRule(
    r"[\w+=,.@-]*\{worker\}[\w+=,.@-]*",
    "an IAM role name containing '{worker}', such as 'ml-worker-{worker}'",
)
IAM_MEMBER = limits.NameRule(
    r"(serviceAccount|user|group|principal|principalSet):\S+",
    "an IAM member such as 'serviceAccount:producer@my-project.iam.gserviceaccount.com'",
)
IAM_MEMBER_TEMPLATE = limits.NameRule(
    r"(serviceAccount|user|group|principal|principalSet):\S*\{worker\}\S*",
    "an IAM member containing '{worker}', such as"
    " 'serviceAccount:worker-{worker}@my-project.iam.gserviceaccount.com'",
)
QUEUE_TYPE = limits.NameRule("quorum|classic", "'quorum' or 'classic'")
# Positive; each enabled backend's own cap is checked once the backends are known.
TASK_DURATION = limits.IntRange(1)
STATE_KEY = limits.NameRule(
    r"[A-Za-z0-9!_.*'()/-]{1,1024}", "an object key of 1 to 1024 safe characters"
)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, kw_only=True)
class SqsSettings:
    """Where the queue lives and its settings; defaults are the seed program's values."""

    region: str
    # An SQS-compatible API (moto, LocalStack) instead of AWS; None means AWS itself.
    endpoint: str | None
    delay_seconds: int
    max_message_size: int
    message_retention_seconds: int
    receive_wait_time_seconds: int
    dead_letter_queue: bool
    max_receive_count: int
    dead_letter_retention_seconds: int
    dead_letter_sources_only: bool
    # A queue any worker may take from, besides one queue per worker.
    shared_queue: bool
    fifo: bool
    content_based_deduplication: bool
    # None: SQS-managed encryption (SSE-SQS).
    kms_key_id: str | None
    kms_data_key_reuse_period_seconds: int
    enforce_ssl: bool
    alarms: bool
    oldest_message_alarm_seconds: int
    alarm_topic_arn: str | None
    # IAM role names to grant to; None leaves the grant to whoever attaches the policy output.
    producer_role: str | None
    worker_role_template: str | None


@dataclass(frozen=True, kw_only=True)
class PubSubSettings:
    project: str
    region: str | None
    # A subscription any worker may pull from, besides one filtered subscription per worker.
    shared_subscription: bool
    message_retention_seconds: int
    dead_letter: bool
    max_delivery_attempts: int
    minimum_backoff_seconds: int
    maximum_backoff_seconds: int
    exactly_once_delivery: bool
    message_ordering: bool
    kms_key_name: str | None
    alerts: bool
    oldest_message_alert_seconds: int
    alert_notification_channel: str | None
    # IAM members ('serviceAccount:...') to grant to; None leaves the grant out.
    producer_member: str | None
    worker_member_template: str | None


@dataclass(frozen=True, kw_only=True)
class RabbitMqSettings:
    """The vhost this environment owns on the broker; `endpoint` None means RABBITMQ_ENDPOINT.

    `min_broker_version` is the oldest RabbitMQ the environment's broker may run; features
    the broker would reject (the per-queue consumer timeout before 3.12) are left out below it.
    """

    vhost: str
    endpoint: str | None
    queue_type: str
    dead_letter: bool
    delivery_limit: int | None
    message_ttl_seconds: int | None
    max_length: int | None
    min_broker_version: tuple[int, ...]

    @property
    def consumer_timeout_policy(self) -> bool:
        return self.min_broker_version >= RABBITMQ_CONSUMER_TIMEOUT_POLICY_SINCE


@dataclass(frozen=True, kw_only=True)
class LocalState:
    """State in a file under the project root, for one person's environment."""

    path: str


@dataclass(frozen=True, kw_only=True)
class S3State:
    bucket: str
    key: str
    region: str


@dataclass(frozen=True, kw_only=True)
class GcsState:
    bucket: str
    prefix: str


StateSettings = LocalState | S3State | GcsState


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """Everything one environment's stack is built from."""

    name: str
    source: str
    name_suffix: str
    workers: int
    # How long one task may take before the backend hands it to another worker: SQS
    # visibility timeout, Pub/Sub ack deadline and RabbitMQ consumer timeout.
    max_task_duration_seconds: int
    # Terraform refuses to destroy queues, topics, subscriptions and exchanges.
    prevent_destroy: bool
    state: StateSettings
    # None: the backend is switched off in this environment.
    sqs: SqsSettings | None
    pubsub: PubSubSettings | None
    rabbitmq: RabbitMqSettings | None


@dataclass(frozen=True)
class FieldRead:
    """One setting as the loader reads it: what the configuration reference is made from."""

    path: str
    kind: type
    rule: limits.Rule | None
    default: Any
    required: bool


class _Table:
    """One TOML table being read: typed look-ups, and a check that nothing was left over."""

    KINDS: Mapping[type, str] = {str: "a string", int: "an integer", bool: "true or false"}

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        source: str,
        path: str = "",
        reads: list[FieldRead] | None = None,
    ) -> None:
        self._data = data
        self._source = source
        self._path = path
        self._read: set[str] = set()
        # When given, every look-up is noted here (tools/config_reference.py).
        self._reads = reads

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self._name(key)} {message}")

    def table(self, key: str) -> _Table:
        self._read.add(key)
        value = self._data.get(key)
        if not isinstance(value, dict):
            found = "is missing" if value is None else f"= {value!r} is not a table"
            raise self.error(key, f"{found}; expected a [{self._name(key)}] table")
        return _Table(value, source=self._source, path=self._name(key), reads=self._reads)

    def value(
        self,
        key: str,
        kind: type,
        *,
        rule: limits.Rule | None = None,
        default: Any = None,
        required: bool = True,
    ) -> Any:
        self._read.add(key)
        if self._reads is not None:
            self._reads.append(
                FieldRead(self._name(key), kind, rule, default, required and default is None)
            )
        if key not in self._data:
            if required and default is None:
                raise self.error(key, f"is missing; expected {self._expected(kind, rule)}")
            return default
        value = self._data[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise self.error(key, f"= {value!r} has the wrong type; expected {self.KINDS[kind]}")
        if rule is not None:
            try:
                limits.check(value, rule, field=self._name(key), where=self._source)
            except limits.LimitError as error:
                raise ConfigError(str(error)) from None
        return value

    def _expected(self, kind: type, rule: limits.Rule | None) -> str:
        return rule.describe() if rule is not None else self.KINDS[kind]

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            allowed = ", ".join(sorted(self._read))
            raise self.error(unknown[0], f"is not a known setting; allowed here: {allowed}")


def _state(table: _Table) -> StateSettings:
    backend = table.value("backend", str)
    state: StateSettings
    if backend == "local":
        state = LocalState(path=table.value("path", str, rule=LOCAL_STATE_PATH))
    elif backend == "s3":
        state = S3State(
            bucket=table.value("bucket", str, rule=limits.S3_BUCKET),
            key=table.value("key", str, rule=STATE_KEY),
            region=table.value("region", str, rule=limits.AWS_REGION),
        )
    elif backend == "gcs":
        state = GcsState(
            bucket=table.value("bucket", str, rule=limits.GCS_BUCKET),
            prefix=table.value("prefix", str, rule=STATE_KEY),
        )
    else:
        raise table.error(
            "backend", f"= {backend!r} is not allowed; expected 'local', 's3' or 'gcs'"
        )
    table.finish()
    return state


def _sqs(table: _Table) -> SqsSettings | None:
    enabled = table.value("enabled", bool)
    region = table.value("region", str, rule=limits.AWS_REGION, required=enabled)
    endpoint = table.value("endpoint", str, rule=limits.SQS_ENDPOINT, required=False)
    numbers = {
        field: table.value(field, int, rule=rule, default=default)
        for field, rule, default in (
            ("delay_seconds", limits.SQS_DELAY_SECONDS, 90),
            ("max_message_size", limits.SQS_MAX_MESSAGE_SIZE, 262_144),
            ("message_retention_seconds", limits.SQS_MESSAGE_RETENTION_SECONDS, 86_400),
            ("receive_wait_time_seconds", limits.SQS_RECEIVE_WAIT_TIME_SECONDS, 10),
            ("max_receive_count", limits.SQS_MAX_RECEIVE_COUNT, 5),
            ("dead_letter_retention_seconds", limits.SQS_MESSAGE_RETENTION_SECONDS, 1_209_600),
            ("kms_data_key_reuse_period_seconds", limits.SQS_KMS_DATA_KEY_REUSE_SECONDS, 300),
            ("oldest_message_alarm_seconds", limits.SQS_MESSAGE_RETENTION_SECONDS, 3600),
        )
    }
    switches = {
        field: table.value(field, bool, default=default)
        for field, default in (
            ("dead_letter_queue", True),
            ("dead_letter_sources_only", True),
            ("shared_queue", True),
            ("fifo", False),
            ("content_based_deduplication", False),
            ("enforce_ssl", True),
            ("alarms", True),
        )
    }
    if switches["content_based_deduplication"] and not switches["fifo"]:
        raise table.error("content_based_deduplication", "= true needs fifo = true")
    optional = {
        "kms_key_id": table.value("kms_key_id", str, rule=limits.AWS_KMS_KEY, required=False),
        "alarm_topic_arn": table.value(
            "alarm_topic_arn", str, rule=limits.AWS_SNS_TOPIC_ARN, required=False
        ),
        "producer_role": table.value("producer_role", str, rule=IAM_ROLE, required=False),
        "worker_role_template": table.value(
            "worker_role_template", str, rule=IAM_ROLE_TEMPLATE, required=False
        ),
    }
    table.finish()
    if not enabled:
        return None
    return SqsSettings(region=region, endpoint=endpoint, **numbers, **switches, **optional)


def _pubsub(table: _Table) -> PubSubSettings | None:
    enabled = table.value("enabled", bool)
    project = table.value("project", str, rule=limits.GCP_PROJECT_ID, required=enabled)
    region = table.value("region", str, rule=limits.GCP_REGION, required=False)
    numbers = {
        field: table.value(field, int, rule=rule, default=default)
        for field, rule, default in (
            ("message_retention_seconds", limits.PUBSUB_RETENTION_SECONDS, 604_800),
            ("max_delivery_attempts", limits.PUBSUB_DELIVERY_ATTEMPTS, 5),
            ("minimum_backoff_seconds", limits.PUBSUB_BACKOFF_SECONDS, 10),
            ("maximum_backoff_seconds", limits.PUBSUB_BACKOFF_SECONDS, 600),
            ("oldest_message_alert_seconds", limits.PUBSUB_ALERT_AGE_SECONDS, 3600),
        )
    }
    if numbers["maximum_backoff_seconds"] < numbers["minimum_backoff_seconds"]:
        raise table.error(
            "maximum_backoff_seconds",
            f"= {numbers['maximum_backoff_seconds']} is below minimum_backoff_seconds"
            f" = {numbers['minimum_backoff_seconds']}",
        )
    switches = {
        field: table.value(field, bool, default=default)
        for field, default in (
            ("shared_subscription", True),
            ("dead_letter", True),
            ("exactly_once_delivery", False),
            ("message_ordering", False),
            ("alerts", True),
        )
    }
    optional = {
        "kms_key_name": table.value("kms_key_name", str, rule=limits.GCP_KMS_KEY, required=False),
        "alert_notification_channel": table.value(
            "alert_notification_channel", str, rule=limits.GCP_NOTIFICATION_CHANNEL, required=False
        ),
        "producer_member": table.value("producer_member", str, rule=IAM_MEMBER, required=False),
        "worker_member_template": table.value(
            "worker_member_template", str, rule=IAM_MEMBER_TEMPLATE, required=False
        ),
    }
    table.finish()
    if not enabled:
        return None
    return PubSubSettings(project=project, region=region, **numbers, **switches, **optional)


def _rabbitmq(table: _Table) -> RabbitMqSettings | None:
    enabled = table.value("enabled", bool)
    vhost = table.value("vhost", str, rule=limits.RABBITMQ_VHOST, required=enabled)
    endpoint = table.value("endpoint", str, rule=limits.RABBITMQ_ENDPOINT, required=False)
    queue_type = table.value("queue_type", str, rule=QUEUE_TYPE, default="quorum")
    dead_letter = table.value("dead_letter", bool, default=True)
    delivery_limit = table.value(
        "delivery_limit", int, rule=limits.RABBITMQ_DELIVERY_LIMIT, required=False
    )
    if queue_type == "quorum" and delivery_limit is None:
        # Set explicitly: the broker's own default changed from unlimited to 20 in 4.0.
        delivery_limit = 20
    elif queue_type == "classic" and delivery_limit is not None:
        raise table.error(
            "delivery_limit",
            "is only allowed with queue_type = 'quorum'; classic queues do not count deliveries",
        )
    message_ttl = table.value(
        "message_ttl_seconds", int, rule=limits.RABBITMQ_MESSAGE_TTL_SECONDS, required=False
    )
    max_length = table.value("max_length", int, rule=limits.RABBITMQ_MAX_LENGTH, required=False)
    version = table.value("min_broker_version", str, rule=BROKER_VERSION, default="3.13")
    table.finish()
    if not enabled:
        return None
    return RabbitMqSettings(
        vhost=vhost,
        endpoint=endpoint,
        queue_type=queue_type,
        dead_letter=dead_letter,
        delivery_limit=delivery_limit,
        message_ttl_seconds=message_ttl,
        max_length=max_length,
        min_broker_version=tuple(int(part) for part in version.split(".")),
    )


def _check_task_duration(root: _Table, settings: EnvironmentSettings) -> None:
    """Each backend caps how long a task may stay with one worker; say what to do instead."""
    duration = settings.max_task_duration_seconds
    caps = (
        (
            settings.sqs,
            "SQS's visibility timeout",
            limits.SQS_VISIBILITY_TIMEOUT_SECONDS,
            "extend it with ChangeMessageVisibility",
        ),
        (
            settings.pubsub,
            "Pub/Sub's ack deadline",
            limits.PUBSUB_ACK_DEADLINE_SECONDS,
            "extend it with ModifyAckDeadline",
        ),
        (
            settings.rabbitmq,
            "RabbitMQ's consumer timeout",
            limits.RABBITMQ_CONSUMER_TIMEOUT_SECONDS,
            "ack early and track progress elsewhere",
        ),
    )
    for backend, what, rule, instead in caps:
        if backend is not None and not rule.allows(duration):
            raise root.error(
                "max_task_duration_seconds",
                f"= {duration!r} is beyond {what} ({rule.describe()}); set a value in range"
                f" and have workers on longer tasks {instead} while they work",
            )


def parse_environment(
    name: str, data: Mapping[str, Any], *, source: str, reads: list[FieldRead] | None = None
) -> EnvironmentSettings:
    """Build one environment's settings from parsed TOML; `source` names it in errors.

    `reads`, when given, collects every setting looked up, for the configuration reference.
    """
    root = _Table(data, source=source, reads=reads)
    settings = EnvironmentSettings(
        name=name,
        source=source,
        name_suffix=root.value("name_suffix", str, rule=NAME_SUFFIX),
        workers=root.value("workers", int, rule=limits.WORKER_COUNT),
        max_task_duration_seconds=root.value(
            "max_task_duration_seconds", int, rule=TASK_DURATION, default=30
        ),
        prevent_destroy=root.value("prevent_destroy", bool, default=name == "prod"),
        state=_state(root.table("state")),
        sqs=_sqs(root.table("sqs")),
        pubsub=_pubsub(root.table("pubsub")),
        rabbitmq=_rabbitmq(root.table("rabbitmq")),
    )
    root.finish()
    _check_task_duration(root, settings)
    return settings


def load_environment(config_dir: Path, name: str) -> EnvironmentSettings:
    """Read and check `config/<name>.toml`."""
    path = config_dir / f"{name}.toml"
    source = f"config/{path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: file not found in {config_dir}; every environment"
            f" ({', '.join(ENVIRONMENTS)}) needs one"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    return parse_environment(name, data, source=source)


def load_all(config_dir: Path) -> list[EnvironmentSettings]:
    """Read every environment, then check that no two of them would share anything."""
    extra = sorted(path.name for path in config_dir.glob("*.toml") if path.stem not in ENVIRONMENTS)
    if extra:
        raise ConfigError(
            f"config/{extra[0]}: not a known environment; expected one of"
            f" {', '.join(f'{env}.toml' for env in ENVIRONMENTS)}"
        )
    environments = [load_environment(config_dir, name) for name in ENVIRONMENTS]
    _check_no_sharing(environments)
    return environments


def _check_no_sharing(environments: list[EnvironmentSettings]) -> None:
    """Two environments with one name suffix, vhost or state would overwrite each other."""
    checks: tuple[tuple[str, Callable[[EnvironmentSettings], object]], ...] = (
        ("name_suffix", lambda env: env.name_suffix),
        ("rabbitmq.vhost", lambda env: env.rabbitmq.vhost if env.rabbitmq else None),
        ("state", lambda env: env.state),
    )
    for what, key in checks:
        owners: dict[object, EnvironmentSettings] = {}
        for env in environments:
            value = key(env)
            if value is None:
                continue
            if value in owners:
                raise ConfigError(
                    f"{env.source}: {what} = {value!r} is already used by"
                    f" {owners[value].source}; each environment needs its own"
                )
            owners[value] = env
