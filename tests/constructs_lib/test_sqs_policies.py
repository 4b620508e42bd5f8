"""The SQS grants fit IAM's size limits at the largest worker count the config accepts.

The documents are the ones the channel attaches (constructs_lib/sqs_policies.py), rendered
with realistic ARNs at their longest: the longest region name, a 12-digit account, the
longest name suffix the config accepts, and the last of 1,000 workers.
"""

from __future__ import annotations

import fnmatch

import pytest
from cdktf import TerraformStack

from constructs_lib import limits
from constructs_lib.sqs.channel import SqsTaskChannel
from constructs_lib.sqs.policies import (
    MANAGED_POLICY_CHARS,
    POLICY_NAME_CHARS,
    ROLE_INLINE_POLICIES_CHARS,
    consume_document,
    partition,
    queue_arn_pattern,
    send_document,
    size,
)
from constructs_lib.sqs.props import SqsTaskChannelProps, SqsTaskQueueProps
from tests.synth_helpers import resources, synth

REGION = "ap-southeast-2"
ACCOUNT = "123456789012"
NAME = "mlTrainingQueue-" + "x" * 32  # name_suffix allows 32 characters
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab"


def _arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}.fifo"


def test_every_role_s_inline_policies_fit_at_a_thousand_workers() -> None:
    workers = limits.MAX_WORKERS
    producer = send_document(
        [_arn(NAME), queue_arn_pattern(REGION, ACCOUNT, f"{NAME}-worker-*")],
        KEY,
        denied=[_arn(f"{NAME}-dlq"), queue_arn_pattern(REGION, ACCOUNT, f"{NAME}-worker-*-dlq*")],
    )
    last_worker = consume_document([_arn(f"{NAME}-worker-{workers}"), _arn(NAME)], KEY)
    # One inline policy per role: each document is its role's whole inline total.
    for document in (producer, last_worker):
        assert size(document) <= ROLE_INLINE_POLICIES_CHARS
        # Small enough to be a managed policy too, should a team prefer those.
        assert size(document) <= MANAGED_POLICY_CHARS
    assert size(producer) < 1000 and size(last_worker) < 1000
    assert len(f"{NAME}-worker-{workers}-consumer") <= POLICY_NAME_CHARS


def test_the_worker_pattern_covers_the_own_account_s_queues_and_no_other_s() -> None:
    """IAM matches `*` across any characters, so an account of `*` would let a queue of that
    name in any account be a target; the pattern names one account."""
    pattern = queue_arn_pattern(REGION, ACCOUNT, f"{NAME}-worker-*")
    assert fnmatch.fnmatchcase(_arn(f"{NAME}-worker-7").removesuffix(".fifo"), pattern)
    other = f"arn:aws:sqs:{REGION}:210987654321:{NAME}-worker-7"
    assert not fnmatch.fnmatchcase(other, pattern)


def test_the_partition_follows_the_region() -> None:
    assert [partition(r) for r in ("eu-west-1", "cn-north-1", "us-gov-west-1")] == [
        "aws",
        "aws-cn",
        "aws-us-gov",
    ]


@pytest.mark.parametrize("workers", [3, 60])
def test_each_role_gets_one_policy_however_many_workers(
    stack: TerraformStack, workers: int
) -> None:
    """60 is past the 45 to 50 workers at which one policy per queue outgrew IAM's cap."""
    queue = SqsTaskQueueProps(name="tasks", enforce_ssl=False, alarms=False, dead_letter=False)
    channel = SqsTaskChannel(
        stack, "Default", SqsTaskChannelProps(region=REGION, workers=workers, queue=queue)
    )
    channel.grant_publish("producer")
    for n in range(1, workers + 1):
        channel.grant_consume(f"worker-{n}", n)
    roles = [policy["role"] for policy in resources(synth(stack), "aws_iam_role_policy")]
    assert sorted(roles) == sorted(["producer", *(f"worker-{n}" for n in range(1, workers + 1))])
