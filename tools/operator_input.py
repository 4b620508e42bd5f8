"""What an operator types around the stacks (ENV, WORKER), checked before anything runs.

Why: the config loader answers a bad config in one line, and the commands around it must
too. `make plan ENV=dve` used to end in a Python traceback (FileNotFoundError) from the
guard; every command behind a Makefile target now reads its stack through `synthesized`,
and an unknown environment or worker is one line that says what there is.

Credentials are inputs too: a stack planned without them used to end in Terraform's
multi-line search of the instance metadata service. `check_credentials` asks each cloud's
own client library the way the provider would (the default credential chain), before
Terraform starts, and names what each one reads and the command that supplies it.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from constructs_lib.registry import backends
from stacks.settings import EMULATED


class OperatorError(Exception):
    """A bad input to an operator command: one line that says what to do (exit code 2)."""


def synthesized(stack_dir: Path) -> dict[str, Any]:
    """The synthesized stack in `stack_dir` (`cdktf.out/stacks/<env>`)."""
    stack_file = stack_dir / "cdk.tf.json"
    if stack_file.is_file():
        stack: dict[str, Any] = json.loads(stack_file.read_text(encoding="utf-8"))
        return stack
    stacks = stack_dir.parent
    known = sorted(p.name for p in stacks.glob("*") if (p / "cdk.tf.json").is_file())
    if not known:
        raise OperatorError(f"{stacks} holds no synthesized stack; run `make synth` first")
    raise OperatorError(
        f"ENV = {stack_dir.name!r} names no environment; expected one of {', '.join(known)}"
    )


def emulated_part(stack_dir: Path) -> Path:
    """Where the app writes the emulated part of the environment of `stack_dir`."""
    return stack_dir.parent.parent / EMULATED / "stacks" / stack_dir.name


def part_holding(stack_dir: Path, backend: str) -> tuple[Path, dict[str, Any]]:
    """The synthesized part of an environment (`stack_dir`: `cdktf.out/stacks/<env>`) that
    holds `backend` (a registry key): that stack, or, where the backend is loaded into an
    emulator (`deploy = "emulator"`), the emulated part beside it. The stack itself when
    neither holds it, for the caller to say what is missing."""
    stack = synthesized(stack_dir)
    [provider] = [found.provider for found in backends() if found.key == backend]
    emulated = emulated_part(stack_dir)
    if provider not in stack.get("provider", {}) and (emulated / "cdk.tf.json").is_file():
        other = synthesized(emulated)
        if provider in other.get("provider", {}):
            return emulated, other
    return stack_dir, stack


def whole_environment(stack_dir: Path) -> dict[str, Any]:
    """The environment of `stack_dir` as one stack: its Terraform part with the resources of
    its emulated part, if any, merged in. For reading it whole (the diagram), never for
    Terraform."""
    stack = synthesized(stack_dir)
    emulated = emulated_part(stack_dir)
    if not (emulated / "cdk.tf.json").is_file():
        return stack
    other = synthesized(emulated)
    whole = {**stack}
    for block in ("resource", "data"):
        merged: dict[str, dict[str, Any]] = {
            kind: dict(bodies) for kind, bodies in stack.get(block, {}).items()
        }
        for kind, bodies in other.get(block, {}).items():
            merged.setdefault(kind, {}).update(bodies)
        whole[block] = merged
    return whole


def worker_number(stack: Mapping[str, Any], environment: str, worker: str) -> int | None:
    """WORKER as typed: None for `producer`, else a worker of `environment` (the stack's
    `worker_<n>` outputs say how many it has)."""
    if worker == "producer":
        return None
    count = sum(1 for name in stack.get("output", {}) if re.fullmatch(r"worker_\d+", name))
    if worker.isdigit() and 1 <= int(worker) <= count:
        return int(worker)
    raise OperatorError(
        f"WORKER = {worker!r} is not a worker of {environment}; expected producer or a"
        f" number from 1 to {count}"
    )


# What each cloud's provider reads, and the command that supplies it: said when none is found.
AWS_READS = (
    "AWS reads AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws's default"
    " profile (`aws configure`, or `aws sso login --profile <name>` then"
    " `export AWS_PROFILE=<name>`)"
)
GOOGLE_READS = (
    "Google reads GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default credentials"
    " (`gcloud auth application-default login`)"
)
# Terraform's google provider also takes these, which Google's client library does not read.
GOOGLE_PROVIDER_VARIABLES = (
    "GOOGLE_CREDENTIALS",
    "GOOGLE_CLOUD_KEYFILE_JSON",
    "GCLOUD_KEYFILE_JSON",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
)
RABBITMQ_VARIABLES = ("RABBITMQ_ENDPOINT", "RABBITMQ_USERNAME", "RABBITMQ_PASSWORD")

# A cloud's check: None when credentials are found, else what to tell the operator.
Check = Callable[[Mapping[str, str]], str | None]


def aws_check(env: Mapping[str, str]) -> str | None:
    """botocore's default chain, which Terraform's aws provider follows too: variables, the
    profile, ~/.aws, SSO, a container or instance role."""
    import botocore.exceptions  # noqa: PLC0415 (only stacks with AWS need the AWS client)
    import botocore.session  # noqa: PLC0415

    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return None
    profile = env.get("AWS_PROFILE") or None
    try:
        found = botocore.session.Session(profile=profile).get_credentials()
    except botocore.exceptions.ProfileNotFound:
        return (
            f"AWS_PROFILE = {profile!r} names no profile in ~/.aws/config or ~/.aws/credentials"
            f" (`aws configure --profile {profile}`, or `aws configure sso`)"
        )
    except botocore.exceptions.BotoCoreError as error:
        return f"AWS could not read its credentials: {error}"
    return None if found is not None else AWS_READS


def google_check(env: Mapping[str, str]) -> str | None:
    """The provider's own variables, then Google's Application Default Credentials."""
    import google.auth  # noqa: PLC0415 (only stacks with Pub/Sub need Google's client)
    import google.auth.exceptions  # noqa: PLC0415

    if any(env.get(name) for name in GOOGLE_PROVIDER_VARIABLES):
        return None
    try:
        # A quota-project warning is advice for API calls, not an answer here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError:
        return GOOGLE_READS
    return None


def _rabbitmq_check(endpoint: str | None) -> Check:
    def check(env: Mapping[str, str]) -> str | None:
        unset = [
            name
            for name in RABBITMQ_VARIABLES
            if not env.get(name) and not (name == "RABBITMQ_ENDPOINT" and endpoint)
        ]
        if not unset:
            return None
        one = len(unset) == 1
        return (
            f"RabbitMQ reads {_and(unset)}, which {'is' if one else 'are'} not set"
            f" (export {'it' if one else 'them'}; the password from your secret store)"
        )

    return check


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def credential_checks(stack: Mapping[str, Any], *, state_only: bool = False) -> list[Check]:
    """A check for each cloud a plan of `stack` talks to: its providers (an AWS one that points
    at an emulator takes the emulator's test credentials) and its state backend; with
    `state_only`, the backend alone (reading outputs)."""
    providers = {} if state_only else stack.get("provider", {})
    backend = stack.get("terraform", {}).get("backend", {})
    aws = [block for block in providers.get("aws", []) if not block.get("endpoints")]
    checks: list[Check] = []
    if aws or "s3" in backend:
        checks.append(aws_check)
    if "google" in providers or "gcs" in backend:
        checks.append(google_check)
    if "rabbitmq" in providers:
        checks.append(_rabbitmq_check(providers["rabbitmq"][0].get("endpoint")))
    return checks


def check_credentials(
    stack: Mapping[str, Any], env: Mapping[str, str], environment: str, *, state_only: bool = False
) -> None:
    """Raise OperatorError, in one line, naming every cloud of the stack without credentials.

    `env` is the environment Terraform will run in; the client libraries read their files
    and the rest of the process's environment themselves, as the providers do."""
    checks = credential_checks(stack, state_only=state_only)
    missing = [answer for check in checks if (answer := check(env))]
    if missing:
        raise OperatorError(f"no credentials for stack {environment}: {'; '.join(missing)}")
