"""The Pub/Sub part of dev and prod on Google's Pub/Sub emulator, through Google's client.

The topology is what `make synth` writes, loaded the way `make pubsub-emulator` loads it
(tools/pubsub_emulator.py), since the Google Terraform provider cannot be installed here.
The timing tests (ack deadline, retry backoff, dead letters, ordering) use a stack this module
synthesizes from a config with the smallest values Google allows (ack deadline 10 s, backoff 1
to 3 s) and ordering on, which no project environment turns on: with dev's 300 s deadline and
10 to 600 s backoff they would take many minutes. One emulator serves the whole module.

Where the emulator and Google's service disagree, the tests adapt to the emulator:
- it refuses a subscription retention above 7 days, so the dead-letter subscription is held
  with 7 days instead of the synthesized 31 (the loader says so);
- it has no IAM, so it moves dead letters without the service agent's roles that Google's
  service needs and the stack grants; who may publish or pull is not tested here;
- it holds a pull open until about a second before the client's timeout when nothing waits,
  where Google's service may return sooner, so every empty pull here is bounded and short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import DeadlineExceeded, NotFound
from google.cloud import pubsub_v1

from stacks.app import build_app
from tests.integration.harness import PUBSUB_EMULATOR_START, run, within_budget
from tests.integration.pubsub_emulator import require_emulator
from tests.synth_helpers import PROJECT_ROOT, resources
from tools.pubsub_emulator import EMULATOR_VARIABLE, Emulator

ENVIRONMENTS = ("dev", "prod")
# The timing stacks: Google's smallest ack deadline and a short backoff; "ordered" the same with
# ordering on. Two stacks, because the emulator applies no retry backoff at all on ordered
# subscriptions (Google's service does), so the backoff is measured where ordering is off.
TIMING_CONFIG = """\
name_suffix = "{name}"
workers = 2
max_task_duration_seconds = 10

[state]
backend = "local"
path = "terraform.{name}.tfstate"

[sqs]
enabled = false

[pubsub]
enabled = true
project = "ml-queues-{name}"
minimum_backoff_seconds = 1
maximum_backoff_seconds = 3
message_ordering = {ordering}

[rabbitmq]
enabled = false
"""
# In the copy of config/ they are synthesized from: which environment file holds which.
TIMING_STACKS = {"timing": ("dev", "false"), "ordered": ("staging", "true")}
# What the emulator's scheduling and a pull's round trip may add to a configured time.
SLACK_SECONDS = 1.5


@dataclass
class Loaded:
    """One stack in the emulator: its synthesized JSON and what the loader printed."""

    stack: dict[str, Any]
    stack_dir: Path
    report: str

    @property
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in resources(self.stack, "google_pubsub_subscription")}

    @property
    def project(self) -> str:
        project: str = self.stack["provider"]["google"][0]["project"]
        return project

    def topic(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"

    def subscription(self, name: str) -> str:
        return f"projects/{self.project}/subscriptions/{name}"

    def every_subscription(self, suffix: str) -> list[str]:
        """The shared one, the dead-letter one, then worker 1's to worker N's."""
        parts = ["", "-dead-letter", *(f"-worker-{k}" for k in range(1, self.workers() + 1))]
        return [self.subscription(f"mlTrainingSubscription-{suffix}{part}") for part in parts]

    def workers(self) -> int:
        topics = resources(self.stack, "google_pubsub_topic")
        return sum("-worker-" in topic["name"] for topic in topics)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    java, jar = require_emulator()
    log = tmp_path_factory.mktemp("pubsub-emulator") / "emulator.log"
    started = time.monotonic()
    server = Emulator(java, jar, log)
    try:
        within_budget(f"the Pub/Sub emulator (log: {log})", started, PUBSUB_EMULATOR_START)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator_env(emulator: Emulator) -> Iterator[dict[str, str]]:
    """PUBSUB_EMULATOR_HOST for this module's clients, and the subprocesses' environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMULATOR_VARIABLE, emulator.host)
        yield {**os.environ}


def _load(stack_dir: Path, env: dict[str, str], *who: str) -> subprocess.CompletedProcess[str]:
    """The loader as `make pubsub-emulator` runs it."""
    command = [sys.executable, "-m", "tools.pubsub_emulator", str(stack_dir), *who]
    return run(command, cwd=PROJECT_ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def timing_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The timing stacks, synthesized from a copy of config/ with two files replaced."""
    config = tmp_path_factory.mktemp("timing-config")
    for path in (PROJECT_ROOT / "config").glob("*.toml"):
        (config / path.name).write_text(path.read_text())
    for name, (file, ordering) in TIMING_STACKS.items():
        (config / f"{file}.toml").write_text(TIMING_CONFIG.format(name=name, ordering=ordering))
    outdir = tmp_path_factory.mktemp("timing-cdktf.out")
    build_app(config, outdir=str(outdir)).synth()
    return {name: outdir / "stacks" / file for name, (file, _) in TIMING_STACKS.items()}


@pytest.fixture(scope="module")
def loaded(
    synth_dir: Path, timing_dirs: dict[str, Path], emulator_env: dict[str, str]
) -> dict[str, Loaded]:
    """dev, prod and the timing stacks, each loaded once into the module's emulator."""
    stacks = {name: synth_dir / "stacks" / name for name in ENVIRONMENTS} | timing_dirs
    result = {}
    for name, stack_dir in stacks.items():
        loading = _load(stack_dir, emulator_env)
        assert loading.returncode == 0, loading.stderr
        result[name] = Loaded(
            json.loads((stack_dir / "cdk.tf.json").read_text()), stack_dir, loading.stderr
        )
    return result


@pytest.fixture(scope="module")
def publisher(emulator_env: dict[str, str]) -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


@pytest.fixture(scope="module")
def subscriber(emulator_env: dict[str, str]) -> pubsub_v1.SubscriberClient:
    return pubsub_v1.SubscriberClient()


def _pull(subscriber: Any, subscription: str, seconds: float) -> list[Any]:
    """What arrives within `seconds` (at least one pull), not yet acknowledged."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = subscriber.pull(
                subscription=subscription,
                max_messages=100,
                timeout=max(deadline - time.monotonic(), 1.0),
            )
        except DeadlineExceeded:
            response = None
        if response is not None and response.received_messages:
            return list(response.received_messages)
        if time.monotonic() >= deadline:
            return []


def _drain(subscriber: Any, subscription: str, seconds: float = 2.0) -> list[str]:
    """Every task id waiting, each acknowledged; stops at a pull that brings nothing."""
    ids = []
    while received := _pull(subscriber, subscription, seconds):
        ids += [message.message.attributes["task_id"] for message in received]
        subscriber.acknowledge(
            subscription=subscription, ack_ids=[message.ack_id for message in received]
        )
    return ids


def _drain_each(subscriber: Any, subscriptions: list[str], seconds: float = 2.0) -> list[list[str]]:
    """`_drain` of each subscription at once, so that empty ones cost one wait, not one each."""
    with ThreadPoolExecutor(max_workers=len(subscriptions)) as pool:
        return list(pool.map(lambda path: _drain(subscriber, path, seconds), subscriptions))


def _publish(publisher: Any, topic: str, **attributes: str) -> str:
    task_id = uuid.uuid4().hex
    publisher.publish(topic, b"{}", task_id=task_id, **attributes).result(timeout=30)
    return task_id


def test_the_emulator_holds_each_subscription_as_synthesized(
    loaded: dict[str, Loaded], subscriber: Any
) -> None:
    for environment in (*ENVIRONMENTS, *TIMING_STACKS):
        stack = loaded[environment]
        for name, synthesized in stack.subscriptions.items():
            held = subscriber.get_subscription(subscription=stack.subscription(name))
            retention = int(synthesized["message_retention_duration"].removesuffix("s"))
            # The emulator's limit (see the module docstring): at most 7 days.
            assert held.message_retention_duration.total_seconds() == min(retention, 604_800)
            assert held.labels == stack.stack["provider"]["google"][0]["default_labels"]
            assert held.expiration_policy.ttl.total_seconds() == 0
            if name.endswith("-dead-letter"):
                assert "dead_letter_policy" not in synthesized
                continue
            policy = synthesized["dead_letter_policy"]
            assert held.ack_deadline_seconds == synthesized["ack_deadline_seconds"]
            assert held.dead_letter_policy.max_delivery_attempts == policy["max_delivery_attempts"]
            assert held.dead_letter_policy.dead_letter_topic == stack.topic(
                f"mlTrainingTopic-{environment}-dead-letter"
            )
            backoff = synthesized["retry_policy"]
            assert (
                f"{int(held.retry_policy.minimum_backoff.total_seconds())}s"
                == backoff["minimum_backoff"]
            )
            assert (
                f"{int(held.retry_policy.maximum_backoff.total_seconds())}s"
                == backoff["maximum_backoff"]
            )
            assert held.enable_message_ordering == (environment == "ordered")


def test_the_loader_lists_once_what_the_emulator_cannot_hold(loaded: dict[str, Loaded]) -> None:
    notes = [
        line.removeprefix("# not in the emulator: ")
        for line in loaded["prod"].report.splitlines()
        if line.startswith("# not in the emulator: ")
    ]
    assert notes == [
        "projects/ml-queues-prod/subscriptions/mlTrainingSubscription-prod-dead-letter:"
        " message_retention_duration 2678400s held as 604800s, the emulator's most (Google's"
        " service keeps up to 31 days)",
        "IAM members (the emulator answers IAM calls with 501): 35 left out",
        "alerting policies (the emulator has no Cloud Monitoring): 2 left out",
        # prod's alerts notify a channel the stack owns (alarm_target = "own").
        "notification channels (the emulator has no Cloud Monitoring): 1 left out",
    ]


def test_loading_again_keeps_what_is_there_and_refuses_other_settings(
    loaded: dict[str, Loaded],
    subscriber: Any,
    emulator_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The emulator cannot change a subscription in place as Terraform would, so a second load
    of the same stack passes and one with another setting stops, changing nothing."""
    stack = loaded["dev"]
    again = _load(stack.stack_dir, emulator_env)
    assert again.returncode == 0, again.stderr
    assert "# created" not in again.stderr
    changed = json.loads(json.dumps(stack.stack))
    worker_1 = next(
        item
        for item in changed["resource"]["google_pubsub_subscription"].values()
        if item["name"] == "mlTrainingSubscription-dev-worker-1"
    )
    worker_1["ack_deadline_seconds"] = 42
    (tmp_path / "cdk.tf.json").write_text(json.dumps(changed))
    refused = _load(tmp_path, emulator_env)
    assert refused.returncode == 2
    assert refused.stderr.endswith(
        "subscription projects/ml-queues-dev/subscriptions/mlTrainingSubscription-dev-worker-1"
        " is already in the emulator with other settings; restart the emulator (it keeps"
        " nothing on disk) and load again\n"
    ), refused.stderr
    held = subscriber.get_subscription(
        subscription=stack.subscription("mlTrainingSubscription-dev-worker-1")
    )
    assert held.ack_deadline_seconds == 300


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_task_for_worker_k_reaches_worker_k_only(
    loaded: dict[str, Loaded], publisher: Any, subscriber: Any, environment: str
) -> None:
    stack = loaded[environment]
    suffix = environment
    workers = stack.workers()
    sent = {
        k: _publish(publisher, stack.topic(f"mlTrainingTopic-{suffix}-worker-{k}"))
        for k in range(1, workers + 1)
    }
    got = _drain_each(subscriber, stack.every_subscription(suffix))
    assert got == [[], [], *([sent[k]] for k in range(1, workers + 1))]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_shared_topic_reaches_the_shared_subscription_only(
    loaded: dict[str, Loaded], publisher: Any, subscriber: Any, environment: str
) -> None:
    stack = loaded[environment]
    sent = _publish(publisher, stack.topic(f"mlTrainingTopic-{environment}"))
    got = _drain_each(subscriber, stack.every_subscription(environment))
    assert got == [[sent], [], *([] for _ in range(stack.workers()))]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_task_for_a_worker_that_does_not_exist_fails_at_the_producer(
    loaded: dict[str, Loaded], publisher: Any, environment: str
) -> None:
    stack = loaded[environment]
    missing = stack.topic(f"mlTrainingTopic-{environment}-worker-{stack.workers() + 1}")
    with pytest.raises(NotFound, match="Topic not found"):
        publisher.publish(missing, b"{}", task_id="nobody").result(timeout=30)


def test_a_task_nacked_max_delivery_attempts_times_is_dead_lettered_after_bounded_backoffs(
    loaded: dict[str, Loaded], publisher: Any, subscriber: Any
) -> None:
    """Each nack is followed by a redelivery no sooner than the minimum backoff and no later
    than the maximum; after the last allowed attempt the task is in the dead-letter
    subscription, with the attributes Pub/Sub adds naming where it came from.

    The emulator redelivers at once after the first nack (measured: 0.01 s), where Google's
    service waits the minimum backoff between any two deliveries; so the backoff is held to
    the retry policy from the second redelivery on.
    """
    stack = loaded["timing"]
    name = "mlTrainingSubscription-timing-worker-1"
    source = stack.subscriptions[name]
    attempts = source["dead_letter_policy"]["max_delivery_attempts"]
    low = int(source["retry_policy"]["minimum_backoff"].removesuffix("s"))
    high = int(source["retry_policy"]["maximum_backoff"].removesuffix("s"))
    sent = _publish(publisher, stack.topic("mlTrainingTopic-timing-worker-1"))
    gaps: list[float] = []
    nacked_at: list[float] = []
    for attempt in range(1, attempts + 1):
        [received] = _pull(subscriber, stack.subscription(name), seconds=high + 10)
        if nacked_at:
            gaps.append(time.monotonic() - nacked_at[-1])
        assert received.message.attributes["task_id"] == sent
        assert received.delivery_attempt == attempt
        # Before the nack: the backoff runs from Pub/Sub's receipt of it, which is no earlier.
        nacked_at.append(time.monotonic())
        subscriber.modify_ack_deadline(
            subscription=stack.subscription(name), ack_ids=[received.ack_id], ack_deadline_seconds=0
        )
    assert gaps[0] <= SLACK_SECONDS, gaps
    assert all(low <= gap <= high + SLACK_SECONDS for gap in gaps[1:]), gaps
    # The worker pulls on and gets nothing more: no sixth delivery. (The emulator moves the
    # task when its subscription is pulled next, not before.)
    assert _pull(subscriber, stack.subscription(name), seconds=high + SLACK_SECONDS) == []
    dead_letters = stack.subscription("mlTrainingSubscription-timing-dead-letter")
    [dead] = _pull(subscriber, dead_letters, seconds=10)
    moved_after = time.monotonic() - nacked_at[-1]
    subscriber.acknowledge(subscription=dead_letters, ack_ids=[dead.ack_id])
    assert dead.message.attributes["task_id"] == sent
    assert dead.message.attributes["CloudPubSubDeadLetterSourceSubscription"] == name
    assert dead.message.attributes["CloudPubSubDeadLetterSourceSubscriptionProject"] == (
        stack.project
    )
    assert dead.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(attempts)
    assert moved_after <= high + 2 * SLACK_SECONDS, moved_after


def test_an_unacknowledged_task_comes_back_after_the_ack_deadline_an_extended_one_does_not(
    loaded: dict[str, Loaded], publisher: Any, subscriber: Any
) -> None:
    """Two workers at once: worker 1 forgets its task, worker 2 extends its deadline while it
    trains (ModifyAckDeadline, as the worker example says), then acknowledges."""
    stack = loaded["timing"]
    forgotten = stack.subscription("mlTrainingSubscription-timing-worker-1")
    training = stack.subscription("mlTrainingSubscription-timing-worker-2")
    deadline = stack.subscriptions["mlTrainingSubscription-timing-worker-1"]["ack_deadline_seconds"]
    first = _publish(publisher, stack.topic("mlTrainingTopic-timing-worker-1"))
    second = _publish(publisher, stack.topic("mlTrainingTopic-timing-worker-2"))
    # Before the pull: the deadline runs from the delivery, which is no earlier.
    pulled_at = time.monotonic()
    [taken] = _pull(subscriber, forgotten, seconds=10)
    [kept] = _pull(subscriber, training, seconds=10)
    assert (taken.message.attributes["task_id"], kept.message.attributes["task_id"]) == (
        first,
        second,
    )
    time.sleep(deadline / 2)
    subscriber.modify_ack_deadline(
        subscription=training, ack_ids=[kept.ack_id], ack_deadline_seconds=deadline * 2
    )
    [again] = _pull(subscriber, forgotten, seconds=deadline + 10)
    back_after = time.monotonic() - pulled_at
    assert again.message.attributes["task_id"] == first
    assert deadline <= back_after <= deadline + SLACK_SECONDS, back_after
    subscriber.acknowledge(subscription=forgotten, ack_ids=[again.ack_id])
    # Past the first deadline and short of the extended one: worker 2 still has its task.
    assert _pull(subscriber, training, seconds=2) == []
    subscriber.acknowledge(subscription=training, ack_ids=[kept.ack_id])
    assert _drain(subscriber, training, seconds=1.0) == []


def test_tasks_with_one_ordering_key_arrive_in_order(
    loaded: dict[str, Loaded], subscriber: Any, emulator_env: dict[str, str]
) -> None:
    stack = loaded["ordered"]
    ordered = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    topic = stack.topic("mlTrainingTopic-ordered-worker-2")
    sent = [uuid.uuid4().hex for _ in range(30)]
    futures = [
        ordered.publish(topic, b"{}", ordering_key="shard-7", task_id=task_id) for task_id in sent
    ]
    for future in futures:
        future.result(timeout=30)
    subscription = stack.subscription("mlTrainingSubscription-ordered-worker-2")
    got: list[str] = []
    while len(got) < len(sent) and (received := _pull(subscriber, subscription, seconds=5)):
        # Each batch acknowledged before the next pull, as a worker would.
        got += [message.message.attributes["task_id"] for message in received]
        subscriber.acknowledge(
            subscription=subscription, ack_ids=[message.ack_id for message in received]
        )
    assert got == sent


def test_the_pubsub_examples_deliver_a_task_to_worker_2_only(
    loaded: dict[str, Loaded], subscriber: Any, emulator_env: dict[str, str]
) -> None:
    """docs/examples with the variables the loader prints, which are `make worker-env`'s
    for the same stack (the Pub/Sub part of its wiring outputs)."""
    stack = loaded["dev"]

    def example(name: str, who: str, *args: str) -> subprocess.CompletedProcess[str]:
        variables = _load(stack.stack_dir, emulator_env, who)
        assert variables.returncode == 0, variables.stderr
        env = {**emulator_env}
        for line in variables.stdout.splitlines():
            key, value = line.split("=", 1)
            env[key] = value
        path = PROJECT_ROOT / "docs" / "examples" / name
        return run([sys.executable, str(path), *args], cwd=PROJECT_ROOT, env=env, timeout=60)

    sent = example("pubsub_producer.py", "producer", "2", "task-42", "shard-0042")
    assert sent.returncode == 0, sent.stderr
    worker = example("pubsub_worker.py", "2")
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.startswith("task task-42: training on shard-0042"), worker.stdout
    for k in (1, 3):
        other = stack.subscription(f"mlTrainingSubscription-dev-worker-{k}")
        assert _pull(subscriber, other, seconds=1.0) == [], f"worker {k}"
    assert _pull(subscriber, stack.subscription("mlTrainingSubscription-dev-worker-2"), 1.0) == []
