from __future__ import annotations

import pytest
from cdktf import TerraformOutput, TerraformStack, Testing

from constructs_lib.limits import LimitError
from constructs_lib.providers import PubsubSubscription, PubsubTopic
from constructs_lib.pubsub_task_topic import PubSubTaskTopic
from tests.synth_helpers import synth


def test_defaults_are_the_seed_names_and_the_subscription_is_on_the_topic(
    stack: TerraformStack,
) -> None:
    PubSubTaskTopic(stack, "tasks")
    synthesized = synth(stack)
    topics = synthesized["resource"][PubsubTopic.TF_RESOURCE_TYPE]
    subscriptions = synthesized["resource"][PubsubSubscription.TF_RESOURCE_TYPE]
    assert [topic["name"] for topic in topics.values()] == ["mlTrainingTopic"]
    [(topic_id, _)] = topics.items()
    assert list(subscriptions.values()) == [
        {"name": "mlTrainingSubscription", "topic": f"${{google_pubsub_topic.{topic_id}.name}}"}
    ]
    assert Testing.to_have_resource_with_properties(
        Testing.synth(stack),
        PubsubSubscription.TF_RESOURCE_TYPE,
        {"name": "mlTrainingSubscription"},
    )


def test_exposes_topic_and_subscription_names(stack: TerraformStack) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", topic_name="t-dev", subscription_name="s-dev")
    TerraformOutput(stack, "topic", value=tasks.topic_name)
    TerraformOutput(stack, "subscription", value=tasks.subscription_name)
    outputs = synth(stack)["output"]
    assert outputs["topic"]["value"].startswith("${google_pubsub_topic.")
    assert outputs["subscription"]["value"].startswith("${google_pubsub_subscription.")


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("topic_name", "ab"),
        ("topic_name", "1starts-with-digit"),
        ("topic_name", "googTopic"),
        ("topic_name", "a" * 256),
        ("subscription_name", "has space"),
        ("subscription_name", "slash/name"),
    ],
)
def test_rejects_names_pubsub_would_refuse(stack: TerraformStack, field: str, name: str) -> None:
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", **{field: name})
    message = str(error.value)
    assert message.startswith(f"environment 'test': PubSubTaskTopic.{field} = {name!r}")
    assert "3 to 255 characters, starting with a letter" in message


def test_accepts_every_character_pubsub_allows(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", topic_name="a-_.~+%9", subscription_name="Z" * 255)
