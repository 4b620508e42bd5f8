"""Real components for the integration tests: Terraform with the provider mirror, moto, RabbitMQ.

Each is started by the tests on 127.0.0.1 and stopped by them, also when a test fails. A
missing component fails the test with a message that says how to install it; only
ML_QUEUES_SKIP_INTEGRATION=1 turns that into a skip, and CI never sets it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacks.app import build_app
from tests.integration.harness import PROJECT_ROOT, moto_at, require
from tests.integration.rabbitmq_chroot import LINES
from tests.integration.rabbitmq_nodes import connect, load_stack, running
from tools import terraform_cli_config
from tools.processes import free_port
from tools.rabbitmq_node import Broker

# The modules that take longest first. The suite runs its modules side by side, each whole on
# one worker (pytest-xdist, `--dist loadfile --no-loadscope-reorder`, see the Makefile), in
# this order: a long module handed out last would finish alone, long after the others.
# Measured with --durations on this machine kind; the modules not named follow in file order.
SLOWEST_FIRST = (
    "test_plan_guard.py",
    "test_local_scale.py",
    "test_rabbitmq_passwords.py",
    "test_operator_commands.py",
    "test_local_deploy.py",
    "test_local_up.py",
    "test_rabbitmq_alerts.py",
    "test_rabbitmq_broker.py",
    "test_installed_package.py",
    "test_terraform_validate.py",
    "test_pubsub_emulator.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules in SLOWEST_FIRST order; a module's own tests keep theirs (a sort is stable)."""
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app as `cdktf synth` writes it, synthesized once for the whole session: with the
    modules on several workers (pytest-xdist), the first worker to need it writes it into
    the folder they share and the others wait for it, rather than each paying a synth."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    outdir, done = shared / "cdktf.out", shared / "cdktf.out.complete"
    with (shared / "cdktf.out.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            build_app(PROJECT_ROOT / "config", outdir=str(outdir)).synth()
            done.touch()
    return outdir


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment to run Terraform in: our own CLI config.

    With TF_PLUGIN_MIRROR set, providers come from that mirror, which must exist; without it,
    from the registry, as on a user's machine. Offline and without a mirror, the provider
    install fails, and the tests say so with PROVIDER_HINT.
    """
    require(
        shutil.which("terraform") is not None,
        "the terraform CLI",
        "install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)",
    )
    mirror = os.environ.get(terraform_cli_config.MIRROR_VARIABLE, "")
    if mirror:
        require(
            (Path(mirror) / terraform_cli_config.REGISTRY).is_dir(),
            f"the Terraform provider mirror {terraform_cli_config.MIRROR_VARIABLE}={mirror}",
            "point it at the folder that holds registry.terraform.io/hashicorp/aws, or unset"
            " it where Terraform can reach the registry",
        )
    config = tmp_path_factory.mktemp("terraform") / "terraform.rc"
    config.write_text(terraform_cli_config.render(Path(mirror) if mirror else None))
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server on a free loopback port, for as long as the module's tests need it: each
    module has its own, so that modules run side by side and none sees another's queues."""
    with moto_at(tmp_path_factory, free_port()) as url:
        yield url


@pytest.fixture(scope="module", params=[line.name for line in LINES])
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    """A node of each tested RabbitMQ line in turn, for the module's tests."""
    with running(request.param, tmp_path_factory) as node:
        yield node


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    """Fresh passwords for the stack's users, as an operator's TF_VAR_* would hold them."""
    return {}


@pytest.fixture(scope="module")
def topology(broker: Broker, synth_dir: Path, passwords: dict[str, str]) -> dict[str, Any]:
    """The dev stack's definitions, imported."""
    stack = json.loads((synth_dir / "stacks" / "dev" / "cdk.tf.json").read_text())
    return load_stack(broker, stack, passwords)


@pytest.fixture
def channel(broker: Broker, topology: dict[str, Any]) -> Iterator[Any]:
    """An administrator's channel with publisher confirms, on empty queues."""
    connection = connect(broker, topology)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for queue in topology["queues"]:
            channel.queue_purge(queue["name"])
        yield channel
    finally:
        if connection.is_open:
            connection.close()
