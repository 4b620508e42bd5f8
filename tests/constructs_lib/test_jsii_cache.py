"""The cached reads give what cdktf itself would, so the JSON cannot tell them apart."""

from __future__ import annotations

from cdktf import Aspects, TerraformOutput, TerraformStack, Testing, Token

from constructs_lib.aspects import CommonLabels, PreventDestroy, visit_all
from constructs_lib.jsii_cache import attribute, logical_id, resource_type
from constructs_lib.limits import is_token
from constructs_lib.providers import SqsQueue
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.pubsub.topic import PubSubTaskTopic
from constructs_lib.sqs.queue import SqsTaskQueue
from tests.synth_helpers import synth


def test_cached_reads_match_cdktf(stack: TerraformStack) -> None:
    queue = SqsQueue(stack, "queue", name="tasks")
    assert resource_type(queue) == queue.terraform_resource_type == "aws_sqs_queue"
    assert logical_id(queue) == queue.friendly_unique_id == "queue"
    url = attribute(queue, "url")
    assert url == attribute(queue, "url")
    TerraformOutput(stack, "url", value=url)
    TerraformOutput(stack, "arn", value=attribute(queue, "arn"))
    outputs = synth(stack)["output"]
    assert outputs["url"]["value"] == "${aws_sqs_queue.queue.url}"
    assert outputs["arn"]["value"] == "${aws_sqs_queue.queue.arn}"


def test_is_token_agrees_with_cdktf_on_every_string(stack: TerraformStack) -> None:
    """The limits are checked without jsii, so a name made from another resource's
    attribute must be told from plain text by the string alone."""
    queue = SqsQueue(stack, "queue", name="tasks")
    values = [
        "tasks",
        "",
        "${not a token}",
        "TfToken",
        queue.url,
        f"prefix-{queue.name}",
        Token.as_string(Token.as_number(queue.delay_seconds)),
    ]
    for value in values:
        assert is_token(value) == Token.is_unresolved(value), value


def build(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "sqs")
    PubSubTaskTopic(stack, "pubsub", PubSubTaskTopicProps(project="ml-queues-dev", workers=2))


def test_visit_all_writes_what_the_aspects_write(stack: TerraformStack) -> None:
    rules = (PreventDestroy(), CommonLabels({"environment": "test"}))
    build(stack)
    visit_all(stack, *rules)
    twin = TerraformStack(Testing.app(), "test")
    build(twin)
    for rule in rules:
        Aspects.of(twin).add(rule)
    visited, aspected = synth(stack), synth(twin)
    assert visited == aspected
    queue = visited["resource"]["aws_sqs_queue"]
    assert all(body["lifecycle"]["prevent_destroy"] for body in queue.values())
