"""The Prometheus renderer: a catalogue's alarms as a rule group, the document a `rule_files`
entry names (`make rabbitmq-alerts` writes it as YAML). No jsii: rules are not resources.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from constructs_lib.alarms import Alarm, PromQL


def string(value: str) -> str:
    """A PromQL string literal: Go's escapes, which JSON's are for `"`, `\\` and the control
    characters; any other character as itself, since Go takes no surrogate pair."""
    return json.dumps(value, ensure_ascii=False)


def _text(value: str) -> str:
    """Static text in a label or description, which Prometheus expands as a Go template: a
    name holding `{{` becomes a template string literal, shown as written."""
    return f"{{{{ {string(value)} }}}}" if "{{" in value else value


def rule_group(
    name: str, interval: str, alarms: Sequence[Alarm[PromQL]], labels: Mapping[str, str]
) -> dict[str, Any]:
    """The group `name`, evaluated every `interval`: a rule per alarm, each carrying `labels`
    (the environment's, by which Alertmanager routes), its severity and its own labels."""
    return {"name": name, "interval": interval, "rules": [_rule(a, labels) for a in alarms]}


def _rule(alarm: Alarm[PromQL], labels: Mapping[str, str]) -> dict[str, Any]:
    watch = alarm.watch
    rule: dict[str, Any] = {"alert": alarm.name, "expr": watch.expr}
    if watch.wait != "0s":
        rule["for"] = watch.wait
    rule["labels"] = {
        **labels,
        "severity": watch.severity,
        **{key: _text(value) for key, value in watch.labels.items()},
    }
    rule["annotations"] = {"summary": watch.summary, "description": _text(alarm.description)}
    return rule
