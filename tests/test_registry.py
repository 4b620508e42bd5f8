"""A backend registered in one place reaches every layer: the config loader, the stack, the
wiring, the config reference and the plan guard, with no edit anywhere else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib import registry
from stacks.settings import ConfigError, EnvironmentSettings
from tests.extra_backend import BACKEND
from tests.synth_helpers import environment, synth_settings
from tools import config_reference
from tools.plan_guard import Change

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def with_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BACKENDS", (*registry.BACKENDS, BACKEND))


def _dev(**ledger: object) -> EnvironmentSettings:
    """dev's settings with a `[ledger]` table, enabled, holding `ledger`."""
    return environment("dev", ledger={"enabled": True, **ledger})


@pytest.mark.usefixtures("with_ledger")
def test_the_loader_reads_and_checks_a_registered_backend_s_table() -> None:
    settings = _dev(shelf="books")
    assert settings.backends["ledger"].shelf == "books"
    assert settings.backends["ledger"].workers == settings.workers
    with pytest.raises(ConfigError, match=r"^config/dev.toml: ledger.shelf = 'Books' is not"):
        _dev(shelf="Books")


@pytest.mark.usefixtures("with_ledger")
def test_the_stack_builds_it_and_wires_its_workers() -> None:
    synthesized = synth_settings(_dev())
    shelves = synthesized["resource"]["terraform_data"]
    assert sorted(body["input"] for body in shelves.values()) == [
        "tasks-dev-0",
        "tasks-dev-1",
        "tasks-dev-2",
    ]
    assert synthesized["output"]["worker_2"]["value"]["ledger"] == {"shelf": "tasks-dev-1"}
    assert registry.env_lines({"ledger": {"shelf": "s"}}, producer=False) == ["LEDGER_SHELF=s"]


@pytest.mark.usefixtures("with_ledger")
def test_the_config_reference_and_the_guard_know_it() -> None:
    keys = {row.key for row in config_reference.rows()}
    assert {"[ledger] enabled", "[ledger] shelf"} <= keys
    gone = Change("terraform_data.ledger_1", "terraform_data", "delete", (), {})
    assert gone.loses_tasks


def test_without_registering_it_nothing_knows_it() -> None:
    assert "terraform_data" not in registry.task_holding_types()
    with pytest.raises(ConfigError, match="ledger"):
        _dev()


def test_reading_and_checking_every_config_loads_no_jsii(tmp_path: Path) -> None:
    """The loader, the registry and the operator-input checks answer a typo in about a
    second: cdktf, jsii and the provider packages stay unloaded until a stack is built,
    also when `python main.py` refuses a bad config."""
    config = tmp_path / "config"
    config.mkdir()
    for path in (PROJECT_ROOT / "config").glob("*.toml"):
        (config / path.name).write_text(path.read_text())
    dev = config / "dev.toml"
    dev.write_text(dev.read_text().replace("workers = 3", "workers = 0", 1))
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from stacks.settings import load_all\n"
        "from tools import operator_input, plan_guard, worker_env\n"
        "from constructs_lib import registry, sqs, pubsub, rabbitmq\n"
        "import main\n"
        "load_all(Path('config'))\n"
        "registry.env_lines({}, producer=True)\n"
        f"main.CONFIG_DIR = Path({str(config)!r})\n"
        "assert main.main() == 2\n"
        "heavy = ('jsii', 'cdktf', 'constructs', 'cdktf_cdktf_provider_aws',"
        " 'cdktf_cdktf_provider_google')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out")},
    )
    assert json.loads(result.stdout) == []
    assert result.stderr.startswith("error: config/dev.toml: workers = 0 is not allowed;")
    assert not (tmp_path / "out").exists()


def test_the_backends_build_in_any_order_and_share_one_aws_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """prod's RabbitMQ passwords live in SSM in SQS's region: whichever backend asks for
    the AWS provider first makes it, and the other uses it."""
    monkeypatch.setattr(registry, "BACKENDS", tuple(reversed(registry.BACKENDS)))
    synthesized = synth_settings(environment("prod"))
    assert [block.get("alias") for block in synthesized["provider"]["aws"]] == [None]
    assert "aws_ssm_parameter" in synthesized["resource"]
    assert "aws_sqs_queue" in synthesized["resource"]


def test_what_terraform_sees_of_an_environment_is_decided_by_the_registry_from_deploy() -> None:
    enabled = {"sqs": "sqs props", "pubsub": "pubsub props", "rabbitmq": None}
    deploy = {"sqs": "terraform", "pubsub": "emulator"}
    assert registry.part(enabled, deploy, "terraform") == {
        "sqs": "sqs props",
        "pubsub": None,
        "rabbitmq": None,
    }
    assert registry.part(enabled, deploy, "emulator") == {
        "sqs": None,
        "pubsub": "pubsub props",
        "rabbitmq": None,
    }
    # Unsaid: through Terraform, as every environment was before `deploy` existed.
    assert registry.part(enabled, {}, "terraform") == enabled


@pytest.mark.usefixtures("with_ledger")
def test_a_backend_without_an_emulator_is_deployed_through_terraform_only() -> None:
    assert registry.ways(BACKEND) == ("terraform",)
    assert {backend.key: registry.ways(backend) for backend in registry.backends()} == {
        "sqs": ("terraform",),
        "pubsub": ("terraform", "emulator"),
        "rabbitmq": ("terraform", "emulator"),
        "ledger": ("terraform",),
    }
    keys = {row.key for row in config_reference.rows()}
    assert {"[pubsub] deploy", "[rabbitmq] deploy"} <= keys
    assert not {"[sqs] deploy", "[ledger] deploy"} & keys
    with pytest.raises(ConfigError, match=r"ledger.deploy is not a known setting"):
        _dev(deploy="emulator")
