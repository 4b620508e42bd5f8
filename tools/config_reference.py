"""Write the README's configuration reference from the config loader itself.

Why: a hand-written table drifts from the code. Here the loader (stacks/settings.py) is run
on complete configs with every setting it reads noted: key, type, whether it is required,
default and allowed range all come from there. Only the meaning of each key is written by
hand, below, and a key without one (or a meaning for a key the loader no longer reads) is an
error, so the two cannot drift apart either.

    python -m tools.config_reference README.md   # rewrites the marked section in place
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from constructs_lib import limits
from stacks.settings import FieldRead, parse_environment

START = "<!-- config-reference:start (make docs) -->"
END = "<!-- config-reference:end -->"

MEANINGS = {
    "name_suffix": "appended to SQS and Pub/Sub names (`mlTrainingQueue-<suffix>`) and to"
    " RabbitMQ user names; unique per environment",
    "workers": "number of workers: a queue, subscription, RabbitMQ queue and user each",
    "max_task_duration_seconds": "how long one task may stay with a worker before it goes to"
    " another: SQS visibility timeout (up to 43200), Pub/Sub ack deadline (10 to 600), RabbitMQ"
    " `consumer-timeout` (from broker 3.12); checked against each enabled backend",
    "prevent_destroy": "Terraform refuses to destroy queues, topics, subscriptions, the vhost"
    " and exchanges; default `true` in prod, `false` elsewhere",
    "state.backend": "`local`, `s3` or `gcs`",
    "state.path": "state file, relative to the project root (`local`)",
    "state.bucket": "S3 bucket (`s3`) or Cloud Storage bucket (`gcs`)",
    "state.key": "object key (`s3`); the state is encrypted and locked (`use_lockfile`)",
    "state.region": "the bucket's region (`s3`)",
    "state.prefix": "object prefix (`gcs`)",
    "sqs.enabled": "`false` leaves out the AWS provider and every SQS resource",
    "sqs.region": "AWS region",
    "sqs.endpoint": "an SQS-compatible API (moto, LocalStack) instead of AWS; the provider"
    " then skips its account and credential checks",
    "sqs.delay_seconds": "every task is invisible this long after it is sent",
    "sqs.max_message_size": "bytes (256 KiB is the limit of aws provider 5.x)",
    "sqs.message_retention_seconds": "how long an unconsumed task is kept",
    "sqs.receive_wait_time_seconds": "long polling",
    "sqs.max_receive_count": "receives before a task moves to its dead-letter queue",
    "sqs.dead_letter_retention_seconds": "at least the queue's retention: a moved task keeps"
    " its original enqueue time",
    "sqs.kms_data_key_reuse_period_seconds": "with `kms_key_id`",
    "sqs.oldest_message_alarm_seconds": "alarm when the oldest task waited longer",
    "sqs.dead_letter_queue": "a DLQ `<queue>-dlq` per queue",
    "sqs.dead_letter_sources_only": "the DLQ accepts tasks only from its source queue"
    " (redrive-allow); `false` only for APIs without it, such as moto",
    "sqs.shared_queue": "besides one queue per worker, a queue any worker may take from",
    "sqs.fifo": "FIFO queues (and DLQs), named `….fifo`",
    "sqs.content_based_deduplication": "needs `fifo = true`",
    "sqs.enforce_ssl": "a queue policy denies every request without TLS",
    "sqs.alarms": "CloudWatch alarms on DLQ depth > 0 and on the oldest task's age",
    "sqs.kms_key_id": "unset: SQS-managed encryption (SSE-SQS), always on",
    "sqs.alarm_topic_arn": "SNS topic the alarms notify; unset: alarms without actions",
    "sqs.producer_role": "IAM role that gets send-only policies on every task queue",
    "sqs.worker_role_template": "IAM role of worker `{worker}`: consume from its own queue"
    " and the shared one",
    "pubsub.enabled": "`false` leaves out the Google provider and every Pub/Sub resource",
    "pubsub.project": "Google Cloud project ID",
    "pubsub.region": "Google Cloud region for the provider",
    "pubsub.message_retention_seconds": "how long a subscription keeps unacknowledged tasks",
    "pubsub.max_delivery_attempts": "before a task goes to the dead-letter topic",
    "pubsub.minimum_backoff_seconds": "retry backoff after a nack",
    "pubsub.maximum_backoff_seconds": "retry backoff, at least the minimum",
    "pubsub.shared_subscription": "besides one filtered subscription per worker, one for"
    " tasks without a `worker` attribute",
    "pubsub.dead_letter": "topic `<topic>-dead-letter` (kept 31 days) with its own"
    " subscription, and the service agent's IAM",
    "pubsub.exactly_once_delivery": "exactly-once delivery on the task subscriptions",
    "pubsub.message_ordering": "ordered delivery; immutable: changing it replaces them",
    "pubsub.kms_key_name": "CMEK for both topics; the service agent may use the key",
    "pubsub.alerts": "Cloud Monitoring alerting policies on a dead letter waiting and on the"
    " oldest task's age, per task subscription",
    "pubsub.oldest_message_alert_seconds": "alert when the oldest unacknowledged task waited"
    " longer; at most `message_retention_seconds`",
    "pubsub.alert_notification_channel": "notification channel the alerts notify; unset:"
    " alerts without notifications (incidents in the console)",
    "pubsub.producer_member": "IAM member that may publish to the topic",
    "pubsub.worker_member_template": "IAM member of worker `{worker}`: pull from its own"
    " subscription and the shared one",
    "rabbitmq.enabled": "`false` leaves out the RabbitMQ provider and every RabbitMQ resource",
    "rabbitmq.vhost": "the environment's own vhost; unique per environment",
    "rabbitmq.endpoint": "management API URL, without credentials; unset: the provider reads"
    " `RABBITMQ_ENDPOINT`",
    "rabbitmq.queue_type": "worker queues' type, also the vhost's default",
    "rabbitmq.dead_letter": "exchange and queue `ml_tasks.dead_letter` take tasks past the"
    " delivery limit, rejected or expired",
    "rabbitmq.delivery_limit": "quorum queues only; unset: 20, set explicitly (the broker's"
    " default changed in 4.0)",
    "rabbitmq.message_ttl_seconds": "unset: tasks never expire",
    "rabbitmq.max_length": "unset: no limit; a full queue refuses new tasks (`reject-publish`)",
    "rabbitmq.min_broker_version": "oldest broker the environment runs; below 3.12 the"
    " `consumer-timeout` policy key is left out",
}

_FULL: dict[str, Any] = {
    "name_suffix": "ref",
    "workers": 1,
    "sqs": {"enabled": True, "region": "us-east-1"},
    "pubsub": {"enabled": True, "project": "ml-queues-ref"},
    "rabbitmq": {"enabled": True, "vhost": "ref"},
}
_STATES = (
    {"backend": "local", "path": "ref.tfstate"},
    {"backend": "s3", "bucket": "ref-bucket", "key": "ref", "region": "us-east-1"},
    {"backend": "gcs", "bucket": "ref-bucket", "prefix": "ref"},
)
_TYPES = {str: "string", int: "integer", bool: "bool"}


def field_reads() -> list[tuple[FieldRead, str]]:
    """Every setting the loader reads, once, in reading order, with when it is required."""
    reads: list[FieldRead] = []
    for state in _STATES:
        parse_environment("reference", {**_FULL, "state": state}, source="ref", reads=reads)
    switched_off: list[FieldRead] = []
    off = {backend: {"enabled": False} for backend in ("sqs", "pubsub", "rabbitmq")}
    parse_environment(
        "reference", {**_FULL, **off, "state": _STATES[0]}, source="ref", reads=switched_off
    )
    required_when_off = {read.path: read.required for read in switched_off}
    result: dict[str, tuple[FieldRead, str]] = {}
    for read in reads:
        if read.path in result:
            first, when = result[read.path]
            if read.rule not in (first.rule, None) and first.rule is not None:
                # One key, checked differently per state backend (an S3 or a GCS bucket).
                both = limits.NameRule(".*", f"{first.rule.describe()}; or {read.rule.describe()}")
                result[read.path] = (dataclasses.replace(first, rule=both), when)
            continue
        if not read.required:
            when = "no"
        elif read.path.startswith("state.") and read.path != "state.backend":
            when = "for its backend"
        elif not required_when_off.get(read.path, True):
            when = "if enabled"
        else:
            when = "yes"
        result[read.path] = (read, when)
    sections = ["", "state", "sqs", "pubsub", "rabbitmq"]
    # Each table together, whichever run first read its keys.
    return sorted(result.values(), key=lambda item: sections.index(item[0].path.rpartition(".")[0]))


def _default(read: FieldRead) -> str:
    if read.default is None:
        return ""
    if isinstance(read.default, bool):
        return f"`{str(read.default).lower()}`"
    if isinstance(read.default, str):
        return f"`{read.default!r}`".replace("'", '"')
    return f"{read.default}"


def table(reads: Iterable[tuple[FieldRead, str]]) -> str:
    reads = list(reads)
    paths = {read.path for read, _ in reads}
    missing = sorted(paths - set(MEANINGS))
    stale = sorted(set(MEANINGS) - paths)
    if missing or stale:
        raise ValueError(f"MEANINGS out of date: no meaning for {missing}; unread {stale}")
    lines = [
        "| key | type | required | default | allowed | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for read, required in reads:
        section, _, key = read.path.rpartition(".")
        name = f"`[{section}] {key}`" if section else f"`{key}`"
        allowed = read.rule.describe() if read.rule is not None else ""
        cells = (name, _TYPES[read.kind], required, _default(read), allowed)
        lines.append("| " + " | ".join(cells) + f" | {MEANINGS[read.path]} |")
    return "\n".join(lines) + "\n"


def rewrite(readme: str) -> str:
    """`readme` with the text between the markers replaced by the current table."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README has no {START} ... {END} section")
    return f"{before}{START}\n{table(field_reads())}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    updated = rewrite(text)
    if updated != text:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"updated the configuration reference in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
