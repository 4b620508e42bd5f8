"""Helpers shared by the integration tests: requiring real components, finding ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

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
