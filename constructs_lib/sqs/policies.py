"""The IAM policy documents that let a producer send and a worker consume SQS tasks.

Why a module of plain functions: the documents must fit IAM's size limits at any worker
count the config accepts, and a test renders them at 1,000 workers with realistic ARNs
(tests/constructs_lib/test_sqs_policies.py). Building them here, without cdktf, is what
lets that test hold the very documents the constructs attach.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# What each identity needs, after AWS CDK's grantSendMessages / grantConsumeMessages.
SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
SEND_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
CONSUME_KMS_ACTIONS = ("kms:Decrypt",)

# IAM's limits (IAM and AWS STS quotas): characters, not counting white space.
ROLE_INLINE_POLICIES_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
MANAGED_POLICIES_PER_ROLE = 10
POLICY_NAME_CHARS = 128


def partition(region: str) -> str:
    """The ARN partition of a region: China and GovCloud regions have their own."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def queue_arn_pattern(region: str, account: str, name: str) -> str:
    """Queues named `name` (IAM wildcards allowed) in `region` of `account` only. With `*`
    for the account, a queue of that name in any other account whose queue policy let this
    role in would be a target for its tasks: the stack's own account is the only one."""
    return f"arn:{partition(region)}:sqs:{region}:{account}:{name}"


def _document(
    actions: Sequence[str],
    resources: Sequence[str],
    kms_actions: Sequence[str],
    kms_key_arn: str | None,
    denied: Sequence[str] = (),
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    ]
    if denied:
        statements.append(
            {"Effect": "Deny", "Action": ["sqs:SendMessage"], "Resource": list(denied)}
        )
    if kms_key_arn is not None:
        statements.append({"Effect": "Allow", "Action": list(kms_actions), "Resource": kms_key_arn})
    return {"Version": "2012-10-17", "Statement": statements}


def send_document(
    resources: Sequence[str], kms_key_arn: str | None, *, denied: Sequence[str] = ()
) -> dict[str, Any]:
    """Send tasks to `resources` (ARNs or patterns), never to `denied` (dead-letter queues)."""
    return _document(SEND_ACTIONS, resources, SEND_KMS_ACTIONS, kms_key_arn, denied)


def consume_document(resources: Sequence[str], kms_key_arn: str | None) -> dict[str, Any]:
    """Take, extend and delete the tasks of `resources`."""
    return _document(CONSUME_ACTIONS, resources, CONSUME_KMS_ACTIONS, kms_key_arn)


def size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against its limits: the JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))
