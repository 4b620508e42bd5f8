"""The real limits of each backend, kept in one table so constructs and config agree.

A value that the cloud would reject should fail when the app is built, with a message a
person can act on, not minutes later in `terraform apply`. Constructs and the config loader
both check against these rules; each caller says where the value came from (a construct
path, or a config file), so the error names it. No jsii here: the config loader answers a
bad value before cdktf loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class LimitError(ValueError):
    """A value outside what the backend accepts; the message is meant for the user."""


@dataclass(frozen=True)
class IntRange:
    """An inclusive integer range; `high=None` means no upper bound; `because` names the
    limit that sets the upper bound, where that is not the value's own cloud range."""

    low: int
    high: int | None = None
    because: str = ""

    def describe(self) -> str:
        """The whole rule, as the configuration reference prints it."""
        return f"{self._range()} ({self.because})" if self.because else self._range()

    def describe_for(self, value: object) -> str:
        """What to tell whoever wrote `value` (None: nothing was written): the reason for the
        upper bound only when that bound is the one broken, since `workers = -3` answered
        with Pub/Sub's topic quota sends its reader the wrong way."""
        above = isinstance(value, int) and self.high is not None and value > self.high
        return self.describe() if above else self._range()

    def _range(self) -> str:
        if self.high is None:
            return f"an integer >= {self.low}"
        return f"an integer from {self.low} to {self.high}"

    def allows(self, value: object) -> bool:
        # bool is an int in Python, but `true` for a size is always a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return value >= self.low and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class NameRule:
    """A naming rule: a pattern, an optional UTF-8 byte cap and reserved prefixes."""

    pattern: str
    description: str
    max_utf8_bytes: int | None = None
    reserved_prefixes: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.description

    def describe_for(self, value: object) -> str:
        return self.description

    def allows(self, value: object) -> bool:
        if not isinstance(value, str) or re.fullmatch(self.pattern, value) is None:
            return False
        if self.max_utf8_bytes is not None and len(value.encode()) > self.max_utf8_bytes:
            return False
        return not value.startswith(self.reserved_prefixes)


Rule = IntRange | NameRule

# SQS, as the hashicorp/aws 5.x provider validates them (CreateQueue attributes).
SQS_DELAY_SECONDS = IntRange(0, 900)
# AWS raised the service limit to 1 MiB in 2025, but aws provider 5.x (our pin) still rejects
# anything above 256 KiB at plan time.
SQS_MAX_MESSAGE_SIZE = IntRange(1024, 262_144)
SQS_MESSAGE_RETENTION_SECONDS = IntRange(60, 1_209_600)
SQS_RECEIVE_WAIT_TIME_SECONDS = IntRange(0, 20)
SQS_VISIBILITY_TIMEOUT_SECONDS = IntRange(0, 43_200)
# The redrive policy's maxReceiveCount, as the SQS console and API accept it.
SQS_MAX_RECEIVE_COUNT = IntRange(1, 1000)
SQS_KMS_DATA_KEY_REUSE_SECONDS = IntRange(60, 86_400)
SQS_QUEUE_NAME = NameRule(
    r"[A-Za-z0-9_-]{1,80}",
    "1 to 80 characters: letters, digits, hyphens and underscores",
)
SQS_FIFO_QUEUE_NAME = NameRule(
    r"[A-Za-z0-9_-]{1,75}\.fifo",
    "1 to 75 letters, digits, hyphens and underscores, then '.fifo' (80 characters in all)",
)

PUBSUB_NAME = NameRule(
    r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}",
    "3 to 255 characters, starting with a letter, then letters, digits and - _ . ~ + %;"
    " not starting with 'goog'",
    reserved_prefixes=("goog",),
)
# Subscription ack deadline; the API's 0 means its default of 10.
PUBSUB_ACK_DEADLINE_SECONDS = IntRange(10, 600)
# Subscription and topic message retention: 10 minutes to 31 days.
PUBSUB_RETENTION_SECONDS = IntRange(600, 2_678_400)
# dead_letter_policy.max_delivery_attempts; the API's 0 means its default of 5.
PUBSUB_DELIVERY_ATTEMPTS = IntRange(5, 100)
# retry_policy minimum and maximum backoff.
PUBSUB_BACKOFF_SECONDS = IntRange(0, 600)
# An alert on the oldest unacked task's age; above the subscription's retention it could never
# fire, so constructs narrow the upper end to it.
PUBSUB_ALERT_AGE_SECONDS = IntRange(60, PUBSUB_RETENTION_SECONDS.high)

# RabbitMQ names are AMQP short strings; names starting with "amq." belong to the broker.
RABBITMQ_NAME = NameRule(
    r"[^\x00-\x1f]+",
    "1 to 255 bytes of UTF-8 without control characters, not starting with 'amq.'",
    max_utf8_bytes=255,
    reserved_prefixes=("amq.",),
)
RABBITMQ_VHOST = NameRule(
    r"[^\x00-\x1f]+",
    "1 to 255 bytes of UTF-8 without control characters",
    max_utf8_bytes=255,
)

# Quorum queues: deliveries allowed before a task is dead-lettered; the broker's -1
# (unlimited) is refused, because a task that crashes every worker would cycle forever.
RABBITMQ_DELIVERY_LIMIT = IntRange(1)
# The broker accepts 0, which would discard every task nobody is waiting for at once.
RABBITMQ_MESSAGE_TTL_SECONDS = IntRange(1, 4_294_967)
RABBITMQ_MAX_LENGTH = IntRange(1)
# consumer_timeout is a 32-bit signed count of milliseconds.
RABBITMQ_CONSUMER_TIMEOUT_SECONDS = IntRange(1, 2_147_483)
# Prometheus alerts (constructs_lib/rabbitmq/alarms.py), our own bounds: under a minute, four
# scrapes of 15 s, a worker that reconnects would page someone; past a day nobody would be told
# in time.
RABBITMQ_UNCONSUMED_ALARM_SECONDS = IntRange(60, 86_400)
RABBITMQ_FULL_ALARM_PERCENT = IntRange(1, 100)

# The reach the design is built and measured for (make bench). The cloud limit next in line
# is Pub/Sub's 10,000 topics and 10,000 subscriptions per project: one of each per worker.
MAX_WORKERS = 1000
WORKER_COUNT = IntRange(
    1,
    MAX_WORKERS,
    because="the reach this design is measured for; Pub/Sub's 10,000 topics per project,"
    " one per worker, come next",
)

RABBITMQ_QUEUE_TYPE = NameRule("quorum|classic", "'quorum' or 'classic'")
# Where the RabbitMQ users' passwords are kept: generated into SSM Parameter Store, or
# sensitive Terraform variables an operator sets.
RABBITMQ_PASSWORD_STORE = NameRule("ssm|variables", "'ssm' or 'variables'")
RABBITMQ_BROKER_VERSION = NameRule(
    r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?", "a RabbitMQ version such as '3.13' or '3.10.8'"
)

# Identities to grant to, as each cloud names them. "{worker}" stands for the worker's number.
IAM_ROLE = NameRule(r"[\w+=,.@-]{1,64}", "an IAM role name: 1 to 64 of A-Z a-z 0-9 +=,.@_-")
IAM_ROLE_TEMPLATE = NameRule(
    r"[\w+=,.@-]*\{worker\}[\w+=,.@-]*",
    "an IAM role name containing '{worker}', such as 'ml-worker-{worker}'",
)
IAM_MEMBER = NameRule(
    r"(serviceAccount|user|group|principal|principalSet):\S+",
    "an IAM member such as 'serviceAccount:producer@my-project.iam.gserviceaccount.com'",
)
IAM_MEMBER_TEMPLATE = NameRule(
    r"(serviceAccount|user|group|principal|principalSet):\S*\{worker\}\S*",
    "an IAM member containing '{worker}', such as"
    " 'serviceAccount:worker-{worker}@my-project.iam.gserviceaccount.com'",
)


AWS_KMS_KEY = NameRule(
    r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+)"
    r"|(alias/[A-Za-z0-9/_-]{1,250})|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    "a KMS key ID, key ARN, alias name ('alias/...') or alias ARN",
)
# IAM policies name a KMS key only by its key ARN; ids and aliases do not match there.
AWS_KMS_KEY_ARN = NameRule(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+",
    "a KMS key ARN such as 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-12'",
)
AWS_SNS_TOPIC_ARN = NameRule(
    r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?",
    "an SNS topic ARN such as 'arn:aws:sns:us-east-1:123456789012:ml-alarms'",
)

# Where alarms go: an existing destination, the stack's own one ("own"), or "none" said on
# purpose (constructs_lib/alarms `destinations`).
OWN_ALARM_TARGET = "own"
AWS_ALARM_TARGET = NameRule(
    rf"none|{OWN_ALARM_TARGET}|{AWS_SNS_TOPIC_ARN.pattern}",
    f"{AWS_SNS_TOPIC_ARN.description}, '{OWN_ALARM_TARGET}' for a topic the stack creates, or"
    " 'none' for alarms without actions",
)
# Who the stack's own topic or channel tells. Loose on purpose: the cloud confirms it.
EMAIL_ADDRESS = NameRule(
    r"[^@\s'\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", "an email address such as 'oncall@example.com'"
)


def alarm_email_fits(values: Mapping[str, Any]) -> str | None:
    """For a rule between fields: an `alarm_email` exactly when the stack owns the topic or
    channel it would subscribe to, so that the stack's own one always tells someone."""
    own = values["alarm_target"] == OWN_ALARM_TARGET
    if own and values["alarm_email"] is None:
        return (
            f"expected {EMAIL_ADDRESS.describe()} with alarm_target = '{OWN_ALARM_TARGET}':"
            " the stack's own destination must tell someone"
        )
    if not own and values["alarm_email"] is not None:
        return (
            f"expected it unset, or alarm_target = '{OWN_ALARM_TARGET}': only the stack's own"
            " destination is subscribed here"
        )
    return None


GCP_NOTIFICATION_CHANNEL = NameRule(
    r"projects/[a-z0-9-]{1,30}/notificationChannels/[0-9]{1,30}",
    "a Cloud Monitoring notification channel: 'projects/P/notificationChannels/ID'",
)
GCP_ALARM_TARGET = NameRule(
    rf"none|{OWN_ALARM_TARGET}|{GCP_NOTIFICATION_CHANNEL.pattern}",
    f"{GCP_NOTIFICATION_CHANNEL.description}, '{OWN_ALARM_TARGET}' for a channel the stack"
    " creates, or 'none' for alerts without notifications",
)
GCP_KMS_KEY = NameRule(
    r"projects/[^/\s]+/locations/[^/\s]+/keyRings/[^/\s]+/cryptoKeys/[^/\s]+",
    "a Cloud KMS key name: 'projects/P/locations/L/keyRings/R/cryptoKeys/K'",
)

# Where things live. Formats as the clouds define them, so a typo fails here, not in a plan.
AWS_REGION = NameRule(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", "an AWS region code such as 'eu-west-1'")
GCP_REGION = NameRule(r"[a-z]+-[a-z]+\d{1,2}", "a Google Cloud region such as 'europe-west1'")
GCP_PROJECT_ID = NameRule(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
    "a Google Cloud project ID: 6 to 30 lowercase letters, digits and hyphens,"
    " starting with a letter and not ending with a hyphen",
)
S3_BUCKET = NameRule(
    r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens,"
    " starting and ending with a letter or digit",
)
GCS_BUCKET = NameRule(
    r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]",
    "a Cloud Storage bucket name: 3 to 63 lowercase letters, digits, dots, hyphens and"
    " underscores, starting and ending with a letter or digit",
)


# Environments whose config must say where alarms go ("none" only on purpose).
ALARMED_ENVIRONMENTS = frozenset({"prod"})


def _api_url(what: str, example: str) -> NameRule:
    # Credentials in the URL are refused: they would end up in the synthesized JSON.
    return NameRule(
        r"https?://[^\s/@]+(/[^\s@]*)?",
        f"an http(s) URL of {what} without credentials, such as {example!r}",
    )


# An AWS API emulator (moto, LocalStack) standing in for SQS.
SQS_ENDPOINT = _api_url("an SQS-compatible API", "http://127.0.0.1:4566")
# The management API the rabbitmq provider talks to.
RABBITMQ_ENDPOINT = _api_url("the RabbitMQ management API", "https://rabbitmq.example.com:15672")


def show(value: object) -> str:
    """A value as the user wrote it: TOML's `true`, Python's repr otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# Every string token cdktf hands out carries this marker; a string without it is plain text.
_TOKEN_MARKER = "TfToken["


def is_token(value: object) -> bool:
    """A reference to another resource's attribute, which Terraform resolves later; read
    from the string itself, so that checking needs no jsii runtime."""
    return isinstance(value, str) and _TOKEN_MARKER in value


def names_fit(names: list[str], rule: NameRule, *, what: str) -> str | None:
    """For a rule between fields: None when `rule` takes every name a construct derives,
    else what was expected of `what` (the field the names are made from)."""
    for name in names:
        # A name made from another resource's attribute is Terraform's to know.
        if not is_token(name) and not rule.allows(name):
            return f"expected {what} that makes {name!r} {rule.describe()}"
    return None


def dead_lettered_too_late(
    attempts: int, *, first: int, each: int, retention: int, rule: IntRange, otherwise: str
) -> tuple[int, str] | None:
    """For a rule between fields: a task that fails every time is dead-lettered `first` +
    `attempts` x `each` seconds after it is sent, and deleted at `retention`. None when it is
    dead-lettered first; else those seconds and what `attempts` should be instead: the most
    that fit, or `otherwise` when fewer than `rule` takes would."""
    taken = first + attempts * each
    if taken < retention:
        return None
    most = (retention - 1 - first) // each if each else 0
    return taken, f"at most {most}" if most >= rule.low else otherwise


def check(value: object, rule: Rule, *, field: str, where: str) -> None:
    """Raise LimitError naming `where`, the field, the value and what is allowed.

    Unresolved cdktf tokens are references to other resources; Terraform resolves them
    later, so there is nothing to check here.
    """
    if is_token(value):
        return
    if not rule.allows(value):
        raise LimitError(
            f"{where}: {field} = {show(value)} is not allowed; expected {rule.describe_for(value)}"
        )
