"""Helpers shared by the integration tests: requiring real components, finding ports, holding
each engine to its start budget."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.synth_helpers import copy_app
from tools import moto_server
from tools.moto_server import EMULATOR_CREDENTIALS

SKIP_VARIABLE = "ML_QUEUES_SKIP_INTEGRATION"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
CDKTF = PROJECT_ROOT / "node_modules" / ".bin" / "cdktf"
# Said with every failed provider install: offline, the registry is what is missing.
PROVIDER_HINT = (
    "\nIf Terraform could not install the AWS provider: without registry access, set"
    " TF_PLUGIN_MIRROR to a folder holding registry.terraform.io/hashicorp/aws"
    " (made with `terraform providers mirror DIR` on a machine that has access)."
)

# Seconds each engine may take from its start to its first answer (within_budget): several
# times what each takes on this machine kind (moto 1-3 s, a RabbitMQ node 10-35 s, Prometheus
# 1-3 s, the Pub/Sub emulator 5-10 s), enough for a machine whose cores are shared with the
# other modules and CI's other steps (the emulator took 38 s at a load of 25 on 2 cores).
MOTO_START = 20.0
RABBITMQ_START = 60.0
PROMETHEUS_START = 30.0
PUBSUB_EMULATOR_START = 45.0


def emulator_client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the emulator at `endpoint`, with its test credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def require(available: bool, what: str, how: str) -> None:
    """Fail (or, when explicitly opted out, skip) unless a real component is available."""
    if available:
        return
    message = f"{what} is not available: {how}"
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{message} (skipped because {SKIP_VARIABLE}=1)")
    pytest.fail(message, pytrace=False)


def within_budget(what: str, started: float, budget: float) -> None:
    """Fail unless `what`, started at monotonic time `started`, took at most `budget` seconds.

    Why: every engine's own wait is generous (a start must not fail on a busy machine), so a
    start that became several times slower would otherwise pass unseen and eat CI's budget.
    Each budget is a few times the start measured on this machine kind, with both cores busy.
    """
    took = time.monotonic() - started
    if took > budget:
        pytest.fail(
            f"{what} took {took:.0f} s to start, more than its budget of {budget:.0f} s: find"
            " out what slowed it (see its log) before raising the budget in"
            " tests/integration/harness.py",
            pytrace=False,
        )


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port`. Connections of an earlier server on it that
    wait out TIME_WAIT do not count: servers (moto's among them) set SO_REUSEADDR too."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# What make needs of a checkout besides the app: the Makefile, the lock files it installs from
# and the tools it runs.
MAKE_FILES = ("Makefile", "Pipfile", "Pipfile.lock", "package.json", "package-lock.json", "tools")
# What `make install` put in the project, linked into a second checkout. Its stamps are newer
# than the copied lock files (copies keep their times), so nothing is installed again.
INSTALLED = (".venv", "node_modules", ".cache/checkov")


def second_checkout(root: Path, *also: str) -> Path:
    """The project at another path, with this checkout's installed .venv, node_modules and
    checkov: make writes its cdktf.out and state, and a config can be broken there, without
    touching this checkout's. `also`: more of the project's files or folders to copy."""
    copy_app(root)
    for name in (*MAKE_FILES, *also):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    for name in INSTALLED:
        if (PROJECT_ROOT / name).exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).symlink_to(PROJECT_ROOT / name)
    return root


def point_local_at(checkout: Path, endpoint: str) -> None:
    """A copy of the app's `local` environment, deployed into the moto at `endpoint` rather
    than at config/local.toml's port, so that it runs beside other tests' moto."""
    config = checkout / "config" / "local.toml"
    text, count = re.subn(
        r'(?m)^endpoint = "[^"]*"$', f'endpoint = "{endpoint}"', config.read_text()
    )
    assert count == 1, "config/local.toml must say `endpoint = ...` once"
    config.write_text(text)


@contextmanager
def moto_at(
    tmp_path_factory: pytest.TempPathFactory, port: int, budget: float = MOTO_START
) -> Iterator[str]:
    """moto's server on 127.0.0.1:`port` for the `with` block: a free port, not the one
    config/local.toml names, so that tests run beside each other and `make deploy-local`."""
    require(
        moto_server.executable() is not None,
        "moto_server",
        "run `make install` (moto is a dev dependency in the Pipfile)",
    )
    require(
        port_is_free(port),
        f"port {port} on 127.0.0.1",
        "another process took it since it was found free; run the tests again",
    )
    with (tmp_path_factory.mktemp("moto") / "moto.log").open("w") as log:
        started = time.monotonic()
        process = moto_server.start(log, port)
        try:
            within_budget(f"moto (log: {log.name})", started, budget)
            yield moto_server.endpoint_at(port)
        finally:
            moto_server.stop(process)


def run(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion with its output captured; the caller judges the exit code."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def cdktf_env(terraform_env: dict[str, str], checkout: Path) -> dict[str, str]:
    """How `make` runs the cdktf CLI, for a copy of the app at `checkout` deploying into moto."""
    require(CDKTF.exists(), "the cdktf CLI", "run `make install` (npm ci)")
    return {
        **terraform_env,
        **EMULATOR_CREDENTIALS,
        "CI": "true",
        # cdktf would point Terraform at ~/.terraform.d/plugin-cache, whose entries are links
        # into the mirror; Terraform then refuses to install a provider "to itself".
        "CDKTF_DISABLE_PLUGIN_CACHE_ENV": "1",
        "PYTHONPATH": str(checkout),
        # The cdktf CLI and jsii on the project's Node LTS, as `npx` and make run them.
        "PATH": f"{PROJECT_ROOT / 'node_modules' / '.bin'}:{terraform_env['PATH']}",
    }


def cdktf(
    checkout: Path, env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """The cdktf CLI on the app at `checkout`, synthesizing into its own cdktf.out."""
    command = [str(CDKTF), *args, "--app", f"{sys.executable} main.py", "--output", "cdktf.out"]
    return run(command, cwd=checkout, env=env, timeout=timeout)
