"""Rules that hold for every resource of a kind, applied to a whole stack as cdktf Aspects.

Why aspects: a rule such as "Terraform must not destroy what holds tasks" used to be
threaded through every construct as a `prevent_destroy` argument, and a construct that
forgot it left a gap. An aspect visits every resource at synth time, so a new construct is
covered without knowing about the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from cdktf import IAspect, TerraformResource, TerraformResourceLifecycle
from constructs import IConstruct

from constructs_lib.providers import MonitoringAlertPolicy
from constructs_lib.task_holding import TASK_HOLDING_TYPES

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

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, TerraformResource):
            return
        if node.terraform_resource_type not in TASK_HOLDING_TYPES:
            return
        existing = node.lifecycle
        kept = {name: getattr(existing, name) for name in _LIFECYCLE_FIELDS} if existing else {}
        node.lifecycle = TerraformResourceLifecycle(prevent_destroy=True, **kept)


@jsii.implements(IAspect)
class CommonLabels:
    """Labels on the Google resources the provider's `default_labels` do not reach (alerting
    policies take `user_labels`), so costs and owners can be traced on all of them."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, MonitoringAlertPolicy):
            # A construct's own labels win: these are defaults, like the provider's.
            node.user_labels = {**self._labels, **(node.user_labels_input or {})}
