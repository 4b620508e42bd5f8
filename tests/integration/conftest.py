"""Real components for the integration tests: Terraform with the provider mirror, moto, RabbitMQ.

Each is started by the tests on 127.0.0.1 and stopped by them, also when a test fails. A
missing component fails the test with a message that says how to install it; only
ML_QUEUES_SKIP_INTEGRATION=1 turns that into a skip, and CI never sets it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import port_is_free, require
from tests.integration.rabbitmq_chroot import LINES
from tests.integration.rabbitmq_nodes import connect, load_stack, running
from tools import moto_server, terraform_cli_config
from tools.rabbitmq_node import Broker


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
    """moto's server on 127.0.0.1, for as long as the module's tests need it."""
    require(
        moto_server.executable() is not None,
        "moto_server",
        "run `make install` (moto is a dev dependency in the Pipfile)",
    )
    require(
        port_is_free(moto_server.PORT),
        f"port {moto_server.PORT} on 127.0.0.1",
        "stop whatever listens there (LocalStack, or the moto of `make deploy-local`:"
        " `make stop-local`)",
    )
    with (tmp_path_factory.mktemp("moto") / "moto.log").open("w") as log:
        process = moto_server.start(log)
        try:
            yield moto_server.ENDPOINT
        finally:
            moto_server.stop(process)


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
