"""How many tasks an SQS queue holds, for the plan guard before it lets a queue go. No jsii."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs_lib.backend_spec import TaskCounter

_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def counter(stack: Mapping[str, Any], env: Mapping[str, str]) -> TaskCounter | None:
    """Tasks in an SQS queue: visible, in flight and delayed, as SQS reports them, through
    the stack's default AWS provider's region and endpoint and the credentials the provider
    itself reads from the environment."""
    providers = stack.get("provider", {})
    if "aws" not in providers:
        return None
    aws = providers["aws"][0]
    endpoint = (aws.get("endpoints") or [{}])[0].get("sqs")
    import boto3  # noqa: PLC0415 (only the guard of a stack with SQS needs the AWS client)

    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        profile_name=env.get("AWS_PROFILE"),
    )
    client = session.client("sqs", region_name=aws["region"], endpoint_url=endpoint)

    def count(resource_type: str, before: Mapping[str, Any]) -> int | None:
        url = before.get("url") or before.get("id")
        if resource_type != "aws_sqs_queue" or not url:
            return None
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(_COUNTS))
        return sum(int(attributes["Attributes"].get(name, 0)) for name in _COUNTS)

    return count
