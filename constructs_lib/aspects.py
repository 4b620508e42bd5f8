"""Rules that hold for every resource of a kind: cdktf aspects, which the app applies once.

Why aspects: a rule such as "Terraform must not destroy what holds tasks" used to be
threaded through every construct as a `prevent_destroy` argument, and a construct that
forgot it left a gap. An aspect visits every resource at synth time, so a new construct is
covered without knowing about the rule.

Why the app applies them with `visit_all`, not `Aspects.of(stack).add`: cdktf calls an
aspect from node, one round trip into Python per
construct and aspect, which at 1,000 workers (some 25,000 constructs) cost longer than the
rest of the synth. `visit_all` walks the finished tree once on the Python side and makes a
round trip only where a rule changes something.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from cdktf import IAspect, TerraformResource, TerraformResourceLifecycle
from constructs import IConstruct

from constructs_lib.jsii_cache import resource_type
from constructs_lib.providers import MonitoringAlertPolicy, MonitoringNotificationChannel
from constructs_lib.registry import task_holding_types

_LIFECYCLE_FIELDS = (
    "create_before_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
)


@jsii.implements(IAspect)
class PreventDestroy:
    """Terraform refuses any plan that destroys a task-holding resource still in the stack."""

    def __init__(self) -> None:
        # Read once: the registry's types do not change while a stack is built.
        self._types = task_holding_types()

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, TerraformResource):
            return
        if resource_type(node) not in self._types:
            return
        existing = node.lifecycle
        kept = {name: getattr(existing, name) for name in _LIFECYCLE_FIELDS} if existing else {}
        node.lifecycle = TerraformResourceLifecycle(prevent_destroy=True, **kept)


@jsii.implements(IAspect)
class CommonLabels:
    """Labels on the Google resources the provider's `default_labels` do not reach (alerting
    policies and notification channels take `user_labels`), so costs and owners can be
    traced on all of them."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, MonitoringAlertPolicy | MonitoringNotificationChannel):
            # A construct's own labels win: these are defaults, like the provider's.
            node.user_labels = {**self._labels, **(node.user_labels_input or {})}


def visit_all(scope: IConstruct, *aspects: IAspect) -> None:
    """Apply `aspects` to `scope` and everything under it now, as cdktf would at synth.

    Only for a tree that is complete: a construct added afterwards is not visited.
    """
    nodes = scope.node.find_all()
    for aspect in aspects:
        for node in nodes:
            aspect.visit(node)
