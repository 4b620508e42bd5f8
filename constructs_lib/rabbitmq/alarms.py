"""The RabbitMQ alarms, as data (see constructs_lib/alarms): Prometheus rules on what the
broker's own `rabbitmq_prometheus` plugin (3.10 and 4.x) reports per queue, whatever the
number of workers (the worker queues are one pattern), each naming the vhost and the queue at
fault. `constructs_lib/alarms/prometheus.py` makes them a rule group, and `make
rabbitmq-alerts` (tools/rabbitmq_alerts.py) writes it with the scrape job they read. No jsii.

Why: a dead letter, an unroutable task or a worker queue that nobody consumes waits on the
broker, kept, and nobody is told.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from constructs_lib.alarms import Alarm, PromQL, Severity
from constructs_lib.alarms.prometheus import string
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps

# The three series per queue that the rules read, from the per-queue endpoint.
MESSAGES = "rabbitmq_detailed_queue_messages"
READY = "rabbitmq_detailed_queue_messages_ready"
CONSUMERS = "rabbitmq_detailed_queue_consumers"
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
_PREFIX = "MlQueuesRabbitMq"


@dataclass(frozen=True)
class Topology:
    """What the rules watch, as the stack defines it (`make rabbitmq-alerts` reads it from
    the synthesized stack's policies)."""

    vhost: str
    worker_pattern: str
    workers: int
    dead_letter_queue: str | None
    unroutable_queue: str
    max_length: int | None


class _Select:
    """Selectors of one scrape job's series of one vhost."""

    def __init__(self, job: str, vhost: str) -> None:
        self._job = job
        self._vhost = vhost

    def selector(self, metric: str, queue: str, *, regex: bool = False) -> str:
        match = "=~" if regex else "="
        return (
            f"{metric}{{job={string(self._job)}, vhost={string(self._vhost)},"
            f" queue{match}{string(queue)}}}"
        )

    def series(self, metric: str, queue: str, *, regex: bool = False) -> str:
        """`metric` of the environment's queues: one series per queue, whichever node of a
        cluster reports it (the node hosting the queue, or its quorum leader), bridged over
        failed scrapes (BRIDGED)."""
        selector = self.selector(metric, queue, regex=regex)
        return f"max by (vhost, queue) (last_over_time({selector}[{BRIDGED}]))"

    @property
    def up(self) -> str:
        return f"up{{job={string(self._job)}}}"


def _alarm(
    name: str,
    expr: str,
    *,
    wait: str,
    severity: Severity,
    summary: str,
    description: str,
    cannot_see: str,
    labels: Mapping[str, str] | None = None,
) -> Alarm[PromQL]:
    """The rule `MlQueuesRabbitMq<name>`; its alert name is its identity too."""
    alert = f"{_PREFIX}{name}"
    return Alarm(
        key=alert,
        name=alert,
        watch=PromQL(expr=expr, wait=wait, severity=severity, summary=summary, labels=labels or {}),
        description=description,
        cannot_see=cannot_see,
    )


def exchange_alarms(
    job: str, found: Topology, props: RabbitMqTaskExchangeProps
) -> list[Alarm[PromQL]]:
    """The rules on the series scrape job `job` stores: eight, nine with a `max_length`, one
    fewer without dead-lettering."""
    select = _Select(job, found.vhost)
    at = "{{ $labels.queue }} of vhost {{ $labels.vhost }}"
    workers = found.worker_pattern
    kept_cannot_see = (
        "nothing while Prometheus scrapes: it fires for as long as the task waits, read or"
        f" not; a node down longer than {BRIDGED}: EndpointDown and KeptQueueNotReported fire"
        " instead, and the task stays kept on the broker"
    )
    alarms = []
    if found.dead_letter_queue is not None:
        alarms.append(
            _alarm(
                "DeadLetterWaiting",
                f"{select.series(MESSAGES, found.dead_letter_queue)} > 0",
                wait="0s",
                severity="warning",
                summary=f"{{{{ $value }}}} dead letters wait in {at}",
                description="Tasks past the delivery limit, rejected or expired are kept here;"
                " each one's x-death header names the worker queue it came from. The alert"
                " fires for as long as one waits, read or not.",
                cannot_see=kept_cannot_see,
            )
        )
    alarms.append(
        _alarm(
            "UnroutableTaskKept",
            f"{select.series(MESSAGES, found.unroutable_queue)} > 0",
            wait="0s",
            severity="warning",
            summary=f"{{{{ $value }}}} tasks for no worker are kept in {at}",
            description="A producer published with a routing key that names no worker queue;"
            " the alternate exchange kept the task here.",
            cannot_see=kept_cannot_see,
        )
    )
    alarms.append(
        _alarm(
            "WorkerQueueUnconsumed",
            f"{select.series(READY, workers, regex=True)} > 0 and on (vhost, queue)"
            f" {select.series(CONSUMERS, workers, regex=True)} == 0",
            wait=f"{props.unconsumed_alarm_seconds}s",
            severity="critical",
            summary=f"{{{{ $value }}}} ready tasks and no consumer in {at}",
            description=f"No worker has consumed this queue for {props.unconsumed_alarm_seconds}"
            " s (unconsumed_alarm_seconds) while tasks wait in it: its worker is down or cannot"
            " connect.",
            cannot_see="a worker that is connected but stuck (consumes and never"
            " acknowledges): its consumer timeout (from 3.12) returns the task, and a task"
            " returned past the delivery limit is a dead letter",
        )
    )
    if found.max_length is not None:
        threshold = math.ceil(found.max_length * props.max_length_alarm_percent / 100)
        alarms.append(
            _alarm(
                "WorkerQueueNearFull",
                f"{select.series(READY, workers, regex=True)} >= {threshold}",
                wait=NEAR_FULL_FOR,
                severity="warning",
                summary=f"{{{{ $value }}}} of {found.max_length} ready tasks in {at}",
                description=f"At {found.max_length} (max_length) the queue refuses new tasks"
                " and the producer gets a nack; this fires at"
                f" {props.max_length_alarm_percent}% (max_length_alarm_percent).",
                cannot_see="a full queue drops nothing: the producer gets a nack"
                " (reject-publish) and keeps the task",
            )
        )
    unwatched = f"every queue of vhost {found.vhost}"
    endpoint_cannot_see = (
        "while a node is down, nothing it hosts is watched; its queues' tasks stay on the broker"
    )
    alarms.append(
        _alarm(
            "EndpointDown",
            f"{select.up} == 0",
            wait=UNWATCHED_FOR,
            severity="critical",
            summary="{{ $labels.instance }} does not answer Prometheus's scrape",
            description=f"The node or its rabbitmq_prometheus endpoint is gone, and {unwatched}"
            " that it hosts is unwatched.",
            cannot_see=endpoint_cannot_see,
            labels={"vhost": found.vhost},
        )
    )
    alarms.append(
        _alarm(
            "EndpointMissing",
            f"absent({select.up})",
            wait=UNWATCHED_FOR,
            severity="critical",
            summary=f"Prometheus scrapes no node for job {job}",
            description=f"The job has no node to scrape ({job}.targets.yml is empty or"
            f" missing), so {unwatched} is unwatched.",
            cannot_see=endpoint_cannot_see,
            labels={"vhost": found.vhost},
        )
    )
    kept = [q for q in (found.dead_letter_queue, found.unroutable_queue) if q is not None]
    alarms.append(
        _alarm(
            "KeptQueueNotReported",
            " or ".join(f"absent({select.selector(MESSAGES, queue)})" for queue in kept),
            wait=UNWATCHED_FOR,
            severity="critical",
            summary=f"no node reports {at}",
            description="The queue is gone, or no node that answers hosts it (a quorum queue"
            " without a leader): what it keeps is not watched.",
            cannot_see="the tasks the queue keeps while no node reports it: DeadLetterWaiting"
            " and UnroutableTaskKept see them again once a node does",
        )
    )
    reported = select.selector(MESSAGES, workers, regex=True)
    alarms.append(
        _alarm(
            "WorkerQueuesNotReported",
            f"count by (vhost) (max by (vhost, queue) ({reported})) < {found.workers}"
            f" or absent({reported})",
            wait=UNWATCHED_FOR,
            severity="critical",
            summary=f"fewer than {found.workers} worker queues of vhost {{{{ $labels.vhost }}}}"
            " are reported",
            description=f"The stack defines {found.workers} worker queues ({workers}); the"
            " missing ones are gone, or no node that answers hosts them, and the other alerts"
            " cannot see their tasks.",
            cannot_see="which worker queue is missing is not named (the rule counts them, so"
            " that 1,000 workers cost one rule): `rabbitmqctl list_queues -p <vhost>` says",
            labels={"vhost": found.vhost},
        )
    )
    everything = select.selector(MESSAGES, ".*", regex=True)
    alarms.append(
        _alarm(
            "QueueReportedTwice",
            f"count by (vhost, queue) ({everything}) > 1",
            wait=REPORTED_TWICE_FOR,
            severity="warning",
            summary=f"two nodes report {at}",
            description="A node cut off from the queue's leader keeps the queue's old numbers,"
            " and the other alerts read the larger of them: an old consumer can hide a worker"
            " queue nobody consumes, an old depth a dead letter taken. Heal the partition.",
            cannot_see="while it lasts the other rules read the larger numbers",
        )
    )
    return alarms
