"""How the ml-queues app adds its Pub/Sub channel to an environment's stack."""

from __future__ import annotations

from dataclasses import replace

from constructs_lib.backend_spec import AppStack, Principals, from_template
from constructs_lib.channel import TaskChannel
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.pubsub.topic import PubSubTaskTopic


def build(stack: AppStack, props: PubSubTaskTopicProps) -> tuple[TaskChannel, Principals]:
    stack.providers.google(props.project, props.region)
    suffix = stack.name_suffix
    topic = PubSubTaskTopic(
        stack.construct,
        "pubsub_task_topic",
        replace(
            props,
            topic_name=f"{props.topic_name}-{suffix}",
            subscription_name=f"{props.subscription_name}-{suffix}",
        ),
    )
    return topic, Principals(props.producer, from_template(props.worker_template))
