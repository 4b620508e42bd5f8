"""`make local-up`'s checks and files, without engines (tests/integration/test_local_up.py
runs the whole walkthrough on real ones)."""

from __future__ import annotations

import json
import shutil
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import local_env, moto_server, processes, pubsub_emulator
from tools.local_env import LocalError


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of its own: `.local/` is relative to where make runs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_terraform_part_of_local_deploys_into_moto_where_the_config_says(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    assert local_env._aws_endpoint(stack_json["local"], "local") == "http://127.0.0.1:4566"


def test_a_terraform_part_with_another_provider_is_refused_in_one_line(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    with pytest.raises(LocalError) as raised:
        local_env._aws_endpoint(stack_json["dev"], "dev")
    assert str(raised.value) == (
        "the Terraform part of dev needs the google, rabbitmq provider, which no engine here"
        ' stands in for; load that backend into its emulator (`deploy = "emulator"` in'
        " config/dev.toml) or switch it off"
    )


def test_a_terraform_part_on_aws_itself_is_refused() -> None:
    stack = {"provider": {"aws": [{"region": "us-east-1"}]}}
    with pytest.raises(LocalError, match=r"\(found: AWS itself\); a local copy deploys into"):
        local_env._aws_endpoint(stack, "dev")


def test_the_identities_are_the_producer_then_each_worker_in_order() -> None:
    outputs: dict[str, Any] = {
        name: {} for name in ("worker_10", "worker_queue_names", "worker_2", "producer")
    }
    assert local_env._identities({"output": outputs}) == ["producer", "worker_2", "worker_10"]


def test_each_identity_s_variables_are_a_file_of_its_own_for_this_user_only(in_tmp: Path) -> None:
    (in_tmp / ".local").mkdir(mode=0o700)
    up = local_env.Up()
    up.add("producer", ["SQS_WORKER_QUEUE_URLS=http://a/1,http://a/2", "AMQP_PASSWORD=0a1b"])
    up.add("worker_2", ["AMQP_QUEUE=worker queue 2"])
    assert local_env._write_variables("local", up) == [
        "  producer: .local/producer.env",
        "  worker 2: .local/worker-2.env",
    ]
    producer = in_tmp / ".local" / "producer.env"
    assert stat.S_IMODE(producer.stat().st_mode) == 0o600
    assert producer.read_text() == (
        "# producer of local on this machine (make local-up)\n"
        "SQS_WORKER_QUEUE_URLS=http://a/1,http://a/2\n"
        "AMQP_PASSWORD=0a1b\n"
    )
    # Quoted where a shell would split it; `set -a; . file` gives the value back.
    worker = in_tmp / ".local" / "worker-2.env"
    assert worker.read_text().splitlines()[1] == "AMQP_QUEUE='worker queue 2'"
    sourced = subprocess.run(
        ["sh", "-c", f'set -a; . "{worker}"; printf %s "$AMQP_QUEUE"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout == "worker queue 2"


def test_down_when_nothing_is_up_says_so(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert local_env.main(["down"]) == 0
    assert capsys.readouterr().out == (
        "the local copy is not up (.local/run does not exist): nothing to stop\n"
    )


@pytest.fixture
def running_engine(child: subprocess.Popen[bytes], in_tmp: Path) -> subprocess.Popen[bytes]:
    """A process standing in for an engine an earlier `up` started."""
    (in_tmp / ".local" / "run").mkdir(parents=True)
    processes.write_pid(in_tmp / ".local" / "run" / "moto.pid", child.pid)
    return child


def test_up_twice_is_refused_and_touches_nothing(
    running_engine: subprocess.Popen[bytes], in_tmp: Path
) -> None:
    with pytest.raises(LocalError) as raised:
        local_env._prepare()
    assert str(raised.value) == (
        "the local copy is up already (moto.pid in .local/run): `make local-down` first"
    )
    assert (in_tmp / ".local" / "run" / "moto.pid").is_file()
    assert running_engine.poll() is None


def test_down_stops_what_the_pid_files_name_and_removes_local(
    running_engine: subprocess.Popen[bytes], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert local_env.main(["down"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"moto: pid {running_engine.pid} stopped",
        "removed .local/ (the variables files, the node's data and the logs)",
    ]
    assert running_engine.wait(timeout=5) == -15
    assert not (in_tmp / ".local").exists()


def test_down_removes_the_state_of_what_was_deployed_into_the_moto_it_stopped(
    running_engine: subprocess.Popen[bytes], in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = in_tmp / "terraform.local.tfstate"
    other = in_tmp / "terraform.dev.tfstate"
    for path in (state, state.with_name("terraform.local.tfstate.backup"), other):
        path.write_text("{}")
    local_env.STATE_NOTE.write_text(str(state))
    assert local_env.main(["down"]) == 0
    assert capsys.readouterr().out.splitlines()[1:3] == [
        "removed terraform.local.tfstate: it described what the stopped moto held",
        "removed terraform.local.tfstate.backup: it described what the stopped moto held",
    ]
    assert [path.name for path in in_tmp.iterdir()] == ["terraform.dev.tfstate"]


def test_a_fresh_local_folder_is_private(in_tmp: Path) -> None:
    local_env._prepare()
    for folder in (in_tmp / ".local", in_tmp / ".local" / "run"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_missing_engine_is_named_with_how_to_install_it_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pubsub_emulator, "find_jar", lambda: None)
    with pytest.raises(LocalError) as raised:
        local_env._check_engines(None, {"pubsub"})
    assert str(raised.value) == (
        "Google's Pub/Sub emulator (google-cloud-cli-pubsub-emulator) is not available: "
        + pubsub_emulator.INSTALL_HINT
    )


def test_moto_s_port_taken_is_named_with_what_may_hold_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether or not this machine has terraform and moto_server."""
    monkeypatch.setattr(shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        endpoint = f"http://{moto_server.HOST}:{port}"
        with pytest.raises(LocalError, match=r"is taken: stop what listens there .*stop-local"):
            local_env._check_engines(endpoint, set())


def test_the_emulated_backends_are_read_from_the_part_s_providers(synth_dir: Path) -> None:
    emulated = json.loads((synth_dir / "emulated" / "stacks" / "local" / "cdk.tf.json").read_text())
    assert local_env._emulated_backends(emulated) == {"pubsub", "rabbitmq"}
    assert local_env._emulated_backends({}) == set()
