"""How the ml-queues app adds its SQS channel to an environment's stack."""

from __future__ import annotations

from dataclasses import replace

from constructs_lib.backend_spec import AppStack, Principals, from_template
from constructs_lib.channel import TaskChannel
from constructs_lib.sqs.channel import SqsTaskChannel
from constructs_lib.sqs.props import SqsTaskChannelProps


def build(stack: AppStack, props: SqsTaskChannelProps) -> tuple[TaskChannel, Principals]:
    if stack.providers.aws(props.region, props.endpoint) is not None:
        # The channel's resources name no provider: they need the stack's default one.
        raise ValueError(
            f"stack {stack.environment}: SQS in {props.region} needs the stack's default AWS"
            f" provider, which another backend made for {stack.providers.aws_default_region};"
            " build SQS first"
        )
    name = f"{props.queue.name}-{stack.name_suffix}"
    # `Default`: cdktf leaves it out of logical ids, so the queues keep the addresses they
    # had when the stack made them itself, and deployed state carries over.
    channel = SqsTaskChannel(
        stack.construct, "Default", replace(props, queue=replace(props.queue, name=name))
    )
    return channel, Principals(props.producer, from_template(props.worker_template))
