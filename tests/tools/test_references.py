"""References between resources, as the diagram, the emulator load and the definitions read
them from a synthesized stack."""

from __future__ import annotations

import pytest

from tools.references import Reference, whole, within


def test_a_whole_reference_is_its_type_id_and_attribute() -> None:
    reference = whole("${rabbitmq_vhost.vhost-1.name}")
    assert reference == Reference("rabbitmq_vhost", "vhost-1", "name")
    assert reference.address == "rabbitmq_vhost.vhost-1"


@pytest.mark.parametrize(
    "value",
    [
        "ml-queues-dev",
        "${var.vhost}",
        "${var.settings.vhost}",
        "${data.aws_caller_identity.current.account_id}",
        "${aws_sqs_queue.tasks.arn}-dlq",
        "${jsonencode(aws_sqs_queue.tasks.arn)}",
    ],
)
def test_anything_else_is_not_a_whole_reference(value: str) -> None:
    assert whole(value) is None


def test_within_finds_every_resource_an_expression_names_in_order() -> None:
    policy = (
        '${jsonencode({"Statement" = [{"Resource" = [aws_sqs_queue.b.arn, aws_sqs_queue.a.arn,'
        ' "arn:aws:sqs:us-east-1:${data.aws_caller_identity.current.account_id}:q-*",'
        " var.extra.arn]}]})}"
    )
    found = [reference.address for reference in within(policy)]
    assert found == ["aws_sqs_queue.b", "aws_sqs_queue.a"]
    assert [r.attribute for r in within("${aws_sqs_queue.q.url}")] == ["url"]


def test_within_sees_no_reference_inside_a_longer_name() -> None:
    assert list(within("data.aws_sqs_queue.x.arn x-aws_sqs_queue.y.arn")) == []
