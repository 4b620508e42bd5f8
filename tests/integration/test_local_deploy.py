"""`cdktf deploy local` into moto, end to end, then the deployed queue checked with boto3.

This is the path a user takes for dev (`cdktf deploy`), offline: the cdktf CLI synthesizes
the app, Terraform installs the AWS provider from the mirror and creates the queue in moto.
The behaviour tests use the `local` environment's short timings (config/local.toml).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.registry import env_lines
from stacks.settings import load_environment
from tests.integration.harness import (
    PROJECT_ROOT,
    PROVIDER_HINT,
    cdktf,
    cdktf_env,
    emulator_client,
    point_local_at,
    run,
)
from tests.synth_helpers import copy_app, selected_by_tags
from tools import worker_env
from tools.operator_input import synthesized

_LOCAL_SQS = load_environment(PROJECT_ROOT / "config", "local").backends["sqs"]
assert _LOCAL_SQS is not None
MAX_RECEIVE_COUNT = _LOCAL_SQS.queue.max_receive_count


@dataclass
class Deployment:
    checkout: Path
    env: dict[str, str]
    outputs: dict[str, Any]
    queue: dict[str, Any]  # the aws_sqs_queue as synthesized
    sqs: Any  # a boto3 SQS client against moto

    def cdktf(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cdktf(self.checkout, self.env, *args)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> Iterator[Deployment]:
    checkout = copy_app(tmp_path_factory.mktemp("deploy") / "app")
    point_local_at(checkout, moto_endpoint)
    env = cdktf_env(terraform_env, checkout)
    # --skip-provider-lock: locking asks the registry for every platform, which is offline.
    deploy = cdktf(checkout, env, "deploy", "local", "--auto-approve", "--skip-provider-lock")
    assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:] + PROVIDER_HINT
    stack_dir = checkout / "cdktf.out" / "stacks" / "local"
    outputs = run(["terraform", "output", "-json"], cwd=stack_dir, env=env, timeout=120)
    assert outputs.returncode == 0, outputs.stderr
    synthesized = json.loads((stack_dir / "cdk.tf.json").read_text())
    [queue] = [
        q
        for q in synthesized["resource"]["aws_sqs_queue"].values()
        if q["name"] == "mlTrainingQueue-local"
    ]
    sqs = emulator_client("sqs", moto_endpoint)
    deployed = Deployment(
        checkout=checkout,
        env=env,
        outputs={name: value["value"] for name, value in json.loads(outputs.stdout).items()},
        queue=queue,
        sqs=sqs,
    )
    try:
        yield deployed
    finally:
        if sqs.list_queues().get("QueueUrls"):  # a test failed before destroying
            deployed.cdktf("destroy", "local", "--auto-approve")


def _receive(deployment: Deployment, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = deployment.sqs.receive_message(
        QueueUrl=url,
        WaitTimeSeconds=0,
        MaxNumberOfMessages=10,
        AttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    return messages


def test_deploy_creates_the_queue_with_the_synthesized_settings(deployment: Deployment) -> None:
    url = deployment.outputs["ml_training_queue_url"]
    assert url == deployment.sqs.get_queue_url(QueueName="mlTrainingQueue-local")["QueueUrl"]
    attributes = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    queue = deployment.queue
    assert attributes["QueueArn"] == deployment.outputs["ml_training_queue_arn"]
    assert {
        "DelaySeconds": int(attributes["DelaySeconds"]),
        "MaximumMessageSize": int(attributes["MaximumMessageSize"]),
        "MessageRetentionPeriod": int(attributes["MessageRetentionPeriod"]),
        "ReceiveMessageWaitTimeSeconds": int(attributes["ReceiveMessageWaitTimeSeconds"]),
        "VisibilityTimeout": int(attributes["VisibilityTimeout"]),
    } == {
        "DelaySeconds": queue["delay_seconds"],
        "MaximumMessageSize": queue["max_message_size"],
        "MessageRetentionPeriod": queue["message_retention_seconds"],
        "ReceiveMessageWaitTimeSeconds": queue["receive_wait_time_seconds"],
        "VisibilityTimeout": queue["visibility_timeout_seconds"],
    }


def test_every_queue_is_encrypted_and_refuses_requests_without_tls(
    deployment: Deployment,
) -> None:
    urls = deployment.sqs.list_queues()["QueueUrls"]
    workers = deployment.outputs["sqs_worker_queue_urls"]
    # The shared queue and one per worker, each with its dead-letter queue.
    assert len(urls) == 2 * (1 + len(workers)) and set(workers) <= set(urls)
    for url in urls:
        attributes = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        assert attributes["SqsManagedSseEnabled"] == "true", url
        [statement] = json.loads(attributes["Policy"])["Statement"]
        assert statement["Effect"] == "Deny" and statement["Action"] == "sqs:*", url
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_alarms_cover_every_queue_by_its_tags(
    deployment: Deployment, moto_endpoint: str
) -> None:
    cloudwatch = emulator_client("cloudwatch", moto_endpoint)
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    urls = deployment.sqs.list_queues()["QueueUrls"]
    tags = {
        url.rsplit("/", 1)[1]: deployment.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        for url in urls
    }
    dead_letter_queues = {name for name in tags if name.endswith("-dlq")}
    assert sorted(alarms) == [
        "mlTrainingQueue-local-alarms-blind",
        "mlTrainingQueue-local-dead-letters",
        "mlTrainingQueue-local-oldest-task",
    ]
    for name, selected in (
        ("mlTrainingQueue-local-dead-letters", dead_letter_queues),
        ("mlTrainingQueue-local-oldest-task", set(tags) - dead_letter_queues),
        ("mlTrainingQueue-local-alarms-blind", set(tags)),
    ):
        [query] = alarms[name]["Metrics"]
        assert selected_by_tags(query["Expression"], tags) == selected, name


def test_a_task_is_invisible_for_delay_seconds(deployment: Deployment) -> None:
    url = deployment.outputs["ml_training_queue_url"]
    body = json.dumps({"shard": "s3://data/shard-0007", "lr": 0.001})
    deployment.sqs.send_message(QueueUrl=url, MessageBody=body)
    sent = time.monotonic()
    assert _receive(deployment, url) == []
    time.sleep(max(0.0, deployment.queue["delay_seconds"] + 0.5 - (time.monotonic() - sent)))
    [message] = _receive(deployment, url)
    assert message["Body"] == body
    deployment.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_an_unacknowledged_task_reappears_after_the_visibility_timeout(
    deployment: Deployment,
) -> None:
    url = deployment.outputs["ml_training_queue_url"]
    deployment.sqs.send_message(QueueUrl=url, MessageBody="task", DelaySeconds=0)
    [first] = _receive(deployment, url)
    received = time.monotonic()
    assert _receive(deployment, url) == []  # a worker holds it
    visibility = deployment.queue["visibility_timeout_seconds"]
    time.sleep(max(0.0, visibility + 0.5 - (time.monotonic() - received)))
    [again] = _receive(deployment, url)
    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    deployment.sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])


def test_the_dead_letter_queue_is_wired_to_its_source(deployment: Deployment) -> None:
    outputs = deployment.outputs
    url, dlq_url = outputs["ml_training_queue_url"], outputs["ml_training_dlq_url"]
    source = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    dlq = deployment.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])
    assert json.loads(source["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": outputs["ml_training_dlq_arn"],
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    retention = "MessageRetentionPeriod"
    assert int(dlq["Attributes"][retention]) > int(source["Attributes"][retention])


def test_a_task_that_keeps_failing_lands_in_the_dead_letter_queue_intact(
    deployment: Deployment,
) -> None:
    url = deployment.outputs["ml_training_queue_url"]
    dlq_url = deployment.outputs["ml_training_dlq_url"]
    body = json.dumps({"shard": "s3://data/shard-0013", "model": {"layers": 12}})
    deployment.sqs.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=0)
    visibility = deployment.queue["visibility_timeout_seconds"]
    for attempt in range(1, MAX_RECEIVE_COUNT + 1):
        [message] = _receive(deployment, url)  # a worker takes it, then crashes
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        time.sleep(visibility + 0.5)
    assert _receive(deployment, url) == []  # past maxReceiveCount: moved, not redelivered
    [dead] = _receive(deployment, dlq_url)
    assert dead["Body"] == body
    deployment.sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"])


def test_worker_env_gives_worker_2_its_queue_from_the_deployed_state(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make worker-env ENV=local WORKER=2` runs this command."""
    stack_dir = deployment.checkout / "cdktf.out" / "stacks" / "local"
    assert worker_env.main([str(stack_dir), "2"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("# worker 2 of local")
    assert dict(line.split("=", 1) for line in lines) == {
        "SQS_REGION": "us-east-1",
        "SQS_QUEUE_URL": deployment.outputs["sqs_worker_queue_urls"][1],
        "SQS_SHARED_QUEUE_URL": deployment.outputs["ml_training_queue_url"],
    }


def _example(
    deployment: Deployment, moto_endpoint: str, name: str, wiring: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run docs/examples/<name> with the env `make worker-env WORKER=...` would give it."""
    stack_dir = deployment.checkout / "cdktf.out" / "stacks" / "local"
    outputs = worker_env.deployed_outputs(stack_dir, synthesized(stack_dir))
    value = outputs[wiring]["value"]
    lines = env_lines(value, producer=wiring == "producer")
    env = {
        **deployment.env,
        **dict(line.split("=", 1) for line in lines),
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,  # boto3 reads it; on AWS leave it unset
    }
    example = PROJECT_ROOT / "docs" / "examples" / name
    return run([sys.executable, str(example), *args], cwd=deployment.checkout, env=env, timeout=60)


def test_the_sqs_examples_deliver_a_task_to_worker_2_only(
    deployment: Deployment, moto_endpoint: str
) -> None:
    sent = _example(
        deployment, moto_endpoint, "sqs_producer.py", "producer", "2", "t-42", "s3://d/7"
    )
    assert sent.returncode == 0, sent.stderr
    time.sleep(deployment.queue["delay_seconds"] + 0.5)
    other = _example(deployment, moto_endpoint, "sqs_worker.py", "worker_1")
    assert (other.returncode, other.stdout) == (0, ""), other.stderr
    worker = _example(deployment, moto_endpoint, "sqs_worker.py", "worker_2")
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.startswith("task t-42: training on s3://d/7 with {'learning_rate'")


def test_destroy_removes_the_queue(deployment: Deployment) -> None:
    destroy = deployment.cdktf("destroy", "local", "--auto-approve")
    assert destroy.returncode == 0, destroy.stdout[-4000:] + destroy.stderr[-4000:]
    assert deployment.sqs.list_queues().get("QueueUrls", []) == []
