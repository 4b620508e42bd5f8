from __future__ import annotations

import pytest
from cdktf import Token

from constructs_lib import limits


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (
            limits.AWS_REGION,
            ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-2"],
            ["useast1", "US-EAST-1", "eu-west"],
        ),
        (
            limits.GCP_REGION,
            ["us-central1", "europe-west1", "northamerica-northeast2"],
            ["us-central", "europe_west1"],
        ),
        (
            limits.GCP_PROJECT_ID,
            ["ml-queues-dev", "abcdef"],
            ["abcde", "1project", "ends-", "Upper-case"],
        ),
        (limits.S3_BUCKET, ["ml-queues-terraform-state", "a.b"], ["AB", "-start", "x" * 64]),
        (limits.GCS_BUCKET, ["state_bucket-1"], ["ab", "Upper"]),
        (
            limits.RABBITMQ_ENDPOINT,
            ["http://127.0.0.1:15672", "https://mq.example.com:15671/api-prefix"],
            ["ftp://host", "http://user:secret@host:15672", "rabbitmq.example.com"],
        ),
    ],
)
def test_name_rules(rule: limits.NameRule, good: list[str], bad: list[str]) -> None:
    assert all(rule.allows(value) for value in good)
    assert not any(rule.allows(value) for value in bad)


def test_unresolved_references_are_left_to_terraform() -> None:
    reference = Token.as_string({"Ref": "x"})
    limits.check(reference, limits.SQS_QUEUE_NAME, field="name", where="here")


def test_non_strings_never_pass_a_name_rule() -> None:
    with pytest.raises(limits.LimitError, match=r"here: name = 42 is not allowed"):
        limits.check(42, limits.SQS_QUEUE_NAME, field="name", where="here")


def test_open_ended_range_is_described_as_such() -> None:
    assert limits.IntRange(1).describe() == "an integer >= 1"
    assert limits.IntRange(1).allows(10_000)


def test_the_worker_count_names_the_limit_that_sets_it() -> None:
    """An absurd count must stop at once, saying why, not run the build until it gives out."""
    assert limits.WORKER_COUNT.describe() == (
        "an integer from 1 to 1000 (the reach this design is measured for; Pub/Sub's 10,000"
        " topics per project, one per worker, come next)"
    )
    assert limits.WORKER_COUNT.allows(1000) and not limits.WORKER_COUNT.allows(1001)


@pytest.mark.parametrize("value", [None, -3, 0, True, "many"])
def test_a_bound_s_reason_is_given_only_when_that_bound_is_broken(value: object) -> None:
    """`workers = -3` has nothing to do with Pub/Sub's topic quota: said then, the reason for
    the upper bound would send its reader the wrong way."""
    assert limits.WORKER_COUNT.describe_for(value) == "an integer from 1 to 1000"
    assert limits.WORKER_COUNT.describe_for(1001) == limits.WORKER_COUNT.describe()
