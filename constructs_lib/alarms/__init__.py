"""Alarms as data: each backend declares what it watches in a catalogue of its own
(`constructs_lib/<backend>/alarms.py`), and one renderer per target makes it real:
`cloudwatch.py` (CloudWatch metric alarms), `cloud_monitoring.py` (Cloud Monitoring alerting
policies) and `prometheus.py` (Prometheus rule groups).

Why: the alarms were written three ways, as CloudWatch resources in two SQS constructs,
alerting policies inside the Pub/Sub construct and a function in tools/ that wrote Prometheus
rules, and where their notifications go was decided three times. Now what an alarm watches,
when it fires and what it says is one entry in its backend's catalogue, and turning entries
into resources or rules is one renderer per target.

No jsii here, nor in the catalogues or the Prometheus renderer: the rules are written without
cdktf, and a catalogue is plain data to read and test. The CloudWatch and Cloud Monitoring
renderers load it, since they build constructs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from constructs_lib.limits import OWN_ALARM_TARGET

# Covariant: a list of `Alarm[MetricsInsights]` is one of `Alarm[MetricsInsights | Metric]`,
# which the CloudWatch renderer takes.
W_co = TypeVar("W_co", covariant=True)


@dataclass(frozen=True, kw_only=True)
class Alarm(Generic[W_co]):
    """One alarm, whatever the target.

    `key`: its identity in the target, which must not change: the construct id of the
    resource a cdktf renderer makes (its Terraform address hangs on it), the alert name of a
    Prometheus rule. `name`: what the target shows and its notifications carry. `watch`: what
    is watched, when it fires and for how long, in the target's own terms (`MetricsInsights`,
    `Metric`, `MonitoringThreshold`, `PromQL`). `description`: what it means and what to do,
    as the target shows it. `cannot_see`: what it cannot see, and why a task is not lost there
    (docs/alarms.md's table says the same to the operator).
    """

    key: str
    name: str
    watch: W_co
    description: str
    cannot_see: str


CloudWatchComparison = Literal["GreaterThanThreshold", "LessThanThreshold"]
# What CloudWatch counts a period without data as: "notBreaching" (OK), "breaching" (in alarm),
# or "ignore" (the alarm keeps the state it has).
MissingData = Literal["notBreaching", "breaching", "ignore"]


@dataclass(frozen=True, kw_only=True)
class CloudWatchCondition:
    """When a CloudWatch alarm fires: the value over one period of `period_seconds` compared
    with `threshold`. `notify_ok`: whether its return to OK is notified too (not where an OK
    may mean "no longer reported" rather than "nothing waits")."""

    comparison: CloudWatchComparison
    threshold: int
    missing_data: MissingData
    notify_ok: bool
    period_seconds: int


@dataclass(frozen=True, kw_only=True)
class MetricsInsights:
    """A Metrics Insights query over many resources: one alarm whatever their number."""

    query: str
    condition: CloudWatchCondition


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric of one resource, named by its dimensions, as `statistic` over a period."""

    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str
    condition: CloudWatchCondition


@dataclass(frozen=True, kw_only=True)
class MonitoringThreshold:
    """When a Cloud Monitoring alerting policy opens an incident: each time series that
    `filter` selects, aligned by `aligner` over `alignment_seconds`, compared with
    `threshold` (`comparison`, the API's spelling) for `duration_seconds`; an incident per
    series."""

    filter: str
    comparison: str
    threshold: int
    aligner: str
    alignment_seconds: int
    duration_seconds: int


# How urgent a Prometheus alert is: the label Alertmanager routes by.
Severity = Literal["critical", "warning"]


@dataclass(frozen=True, kw_only=True)
class PromQL:
    """A Prometheus alerting rule: it fires for every series `expr` returns once it has
    returned it for `wait` (a Prometheus duration; "0s": at the first evaluation).
    `severity` is the label Alertmanager routes by; `summary` a template (`{{ $labels.queue
    }}`); `labels` are added as written, whatever names they hold."""

    expr: str
    wait: str
    severity: Severity
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)


def destinations(
    target: str | None, email: str | None, own: Callable[[str], str]
) -> list[str] | None:
    """Where alarms with `alarm_target = target` notify: nowhere when it is unset or 'none'
    (on purpose, for environments nobody watches), the destination it names, or with 'own'
    the stack's own one, which `own(email)` makes; only then, so that an alarm target given
    by name creates nothing. The props' cross rule (`limits.alarm_email_fits`) gives 'own'
    its address before a construct is built."""
    if target == OWN_ALARM_TARGET:
        if email is None:
            raise ValueError("alarm_target 'own' needs alarm_email, who its destination tells")
        return [own(email)]
    return [target] if target not in (None, "none") else None
