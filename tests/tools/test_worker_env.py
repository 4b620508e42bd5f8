from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.registry import env_lines, wirings
from tools import worker_env


def test_each_backend_gets_its_prefix_in_wiring_order_and_lists_are_joined() -> None:
    wiring: dict[str, dict[str, Any]] = {
        "sqs": {"queue_url": "http://q/2", "region": "us-east-1", "shared_queue_url": None},
        "rabbitmq": {
            "queue": "worker_queue_2",
            "vhost": "v",
            "password_parameter": "/ml-queues/dev/rabbitmq/ml-queues-dev-worker-2",
        },
        "pubsub": {"subscription": "projects/p/subscriptions/s-2", "shared_subscription": "s"},
    }
    assert env_lines(wiring, producer=False) == [
        "PUBSUB_SUBSCRIPTION=projects/p/subscriptions/s-2",
        "PUBSUB_SHARED_SUBSCRIPTION=s",
        "AMQP_VHOST=v",
        "AMQP_PASSWORD_PARAMETER=/ml-queues/dev/rabbitmq/ml-queues-dev-worker-2",
        "AMQP_QUEUE=worker_queue_2",
        "SQS_REGION=us-east-1",
        "SQS_QUEUE_URL=http://q/2",
    ]
    producer = {"rabbitmq": {"routing_keys": ["worker_queue_1", "worker_queue_2"]}}
    assert env_lines(producer, producer=True) == ["AMQP_ROUTING_KEYS=worker_queue_1,worker_queue_2"]


def test_variable_names_come_from_the_typed_wiring() -> None:
    """A field renamed in constructs_lib/wiring.py renames its variable; nothing else to edit."""
    worker = wirings(producer=False)
    assert worker["sqs"].variables()["queue_url"] == "SQS_QUEUE_URL"
    assert worker["rabbitmq"].variables()["queue"] == "AMQP_QUEUE"
    assert worker["rabbitmq"].variables()["password_parameter"] == "AMQP_PASSWORD_PARAMETER"
    with pytest.raises(KeyError, match="unknown backend 'kafka'"):
        env_lines({"kafka": {"topic": "t"}}, producer=False)


@pytest.fixture
def dev_stack(synth_dir: Path, tmp_path: Path) -> Path:
    """The synthesized dev stack at cdktf.out/stacks/dev inside a project root of its own."""
    stack_dir = tmp_path / "cdktf.out" / "stacks" / "dev"
    shutil.copytree(synth_dir / "stacks" / "dev", stack_dir)
    return stack_dir


def test_a_stack_never_deployed_says_so_and_how_to_deploy(
    dev_stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert worker_env.main([str(dev_stack), "2"]) == 3
    error = capsys.readouterr().err
    assert error.startswith("error: stack dev is not deployed (no state at ")
    assert error.rstrip().endswith("deploy it first: `make deploy ENV=dev`")


def test_the_deployed_outputs_of_one_worker_become_env_lines(
    dev_stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The local backend's path, relative to the stack folder, lands in the project root.
    state = {"outputs": {"worker_2": {"value": {"sqs": {"queue_url": "https://sqs/q-2"}}}}}
    (dev_stack.parent.parent.parent / "terraform.dev.tfstate").write_text(json.dumps(state))
    assert worker_env.main([str(dev_stack), "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# worker 2 of dev; passwords are not here")
    assert out[1:] == ["SQS_QUEUE_URL=https://sqs/q-2"]
    # Synthesized but not deployed yet.
    assert worker_env.main([str(dev_stack), "3"]) == 2
    assert "dev has no worker_3; it has worker_2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("worker", "expected"),
    [
        (
            "9",
            "error: WORKER = '9' is not a worker of dev; expected producer or a number from 1 to 3",
        ),
        ("0", "error: WORKER = '0' is not a worker of dev; expected producer"),
        ("two", "error: WORKER = 'two' is not a worker of dev; expected producer"),
        ("", "error: WORKER = '' is not a worker of dev; expected producer"),
    ],
)
def test_a_worker_the_stack_does_not_have_is_one_line(
    dev_stack: Path, capsys: pytest.CaptureFixture[str], worker: str, expected: str
) -> None:
    assert worker_env.main([str(dev_stack), worker]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(expected)


def test_an_unknown_environment_lists_those_there_are(
    dev_stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert worker_env.main([str(dev_stack.parent / "dve"), "2"]) == 2
    assert capsys.readouterr().err == (
        "error: ENV = 'dve' names no environment; expected one of dev\n"
    )
