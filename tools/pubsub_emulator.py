"""Run Google's Pub/Sub emulator, and load a stack's Pub/Sub topics and subscriptions into it.

Why: the Google Terraform provider cannot be installed here, so `terraform apply` cannot put
the topology anywhere; Google's emulator (`google-cloud-cli-pubsub-emulator`) can hold most
of it. This reads the synthesized `cdk.tf.json` and creates every `google_pubsub_topic` and
`google_pubsub_subscription` with each setting the emulator takes, so the integration tests
and a developer's worker run against an environment's exact topology. What the emulator
cannot hold (IAM members, KMS, alerting policies, notification channels) is listed once; a
setting this cannot translate stops the load before anything is created, never skipped
quietly.

It only ever talks to the emulator named by PUBSUB_EMULATOR_HOST, never to Google's service.
`Emulator` runs one (for the tests and the tools): its jar started directly by Java and
stopped by its own id, since `gcloud beta emulators pubsub start` leaves its Java child
running when the wrapper is killed. The emulator keeps everything in memory, so each start is
empty.

    PUBSUB_EMULATOR_HOST=127.0.0.1:8085 python -m tools.pubsub_emulator cdktf.out/stacks/dev
    PUBSUB_EMULATOR_HOST=127.0.0.1:8085 python -m tools.pubsub_emulator cdktf.out/stacks/dev \
        --worker 2    # then the variables `make worker-env` gives worker 2, on the emulator
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core.exceptions import GoogleAPIError, NotFound
from google.cloud import pubsub_v1

from constructs_lib.registry import env_lines
from tools import references
from tools.operator_input import OperatorError, part_holding, worker_number
from tools.processes import free_port, wait_until

EMULATOR_VARIABLE = "PUBSUB_EMULATOR_HOST"
TOPIC = "google_pubsub_topic"
SUBSCRIPTION = "google_pubsub_subscription"
# The emulator refuses a subscription's messageRetentionDuration above 7 days ("out of
# bounds"); Google's service takes up to 31 days, which the dead-letter subscription uses.
EMULATOR_MAX_SUBSCRIPTION_RETENTION_SECONDS = 604_800
# One attempt per call, bounded: a local emulator answers in milliseconds or is not there,
# and the client's default retries would wait 10 minutes to say so.
_CALL = {"retry": None, "timeout": 15}
# Terraform's meta-arguments: how Terraform manages the resource, not a Pub/Sub setting.
_META = {"//", "lifecycle", "depends_on"}
_IAM = "IAM members (the emulator answers IAM calls with 501)"
# Resource types the emulator has no API for, and why each is left out.
_NOT_HELD = {
    "google_pubsub_topic_iam_member": _IAM,
    "google_pubsub_subscription_iam_member": _IAM,
    "google_kms_crypto_key_iam_member": "KMS (the emulator has no KMS)",
    "google_monitoring_alert_policy": "alerting policies (the emulator has no Cloud Monitoring)",
    "google_monitoring_notification_channel": (
        "notification channels (the emulator has no Cloud Monitoring)"
    ),
}
_DURATION = re.compile(r"(\d+)(?:\.(\d{1,9}))?s")

PACKAGE = "google-cloud-cli-pubsub-emulator"
# Where the package puts it; `dpkg -L` is asked when the glob finds nothing.
JAR_GLOB = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
INSTALL_HINT = (
    f"install Google's Pub/Sub emulator and Java: `apt-get install {PACKAGE}` from the Google"
    " Cloud CLI's Debian repository (it brings its jar, cloud-pubsub-emulator-*-all.jar) and"
    " `apt-get install default-jre-headless` (Java 17 or newer); an emulator of its own is"
    " started, so none need be running"
)


def find_jar() -> Path | None:
    found = sorted(glob.glob(JAR_GLOB))
    if not found and shutil.which("dpkg") is not None:
        listed = subprocess.run(
            ["dpkg", "-L", PACKAGE], capture_output=True, text=True, timeout=30, check=False
        ).stdout.splitlines()
        found = sorted(line for line in listed if line.endswith("-all.jar"))
    return Path(found[-1]) if found else None


def find_java() -> str | None:
    return shutil.which("java")


class Emulator:
    """One emulator process on a free loopback port; `host` is what PUBSUB_EMULATOR_HOST
    takes. In a session of its own, so that the terminal that started it can close."""

    def __init__(self, java: str, jar: Path, log: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [java, "-jar", str(jar), "--host=127.0.0.1", f"--port={self.port}"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        try:
            wait_until(
                self.answers,
                alive=lambda: self.process.poll() is None,
                seconds=60,
                what=f"the Pub/Sub emulator (see {self.log})",
            )
        except RuntimeError:
            self.stop()
            raise

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                return b"Ok" in response.read()
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class UntranslatableError(Exception):
    """A setting the emulator load cannot carry; the message names resource and setting."""


@dataclass
class Topology:
    """What to create, as requests to the Pub/Sub API, and what the emulator cannot hold."""

    topics: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    # Each line once: what is left out or held otherwise than Google would.
    not_held: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if line not in self.not_held:
            self.not_held.append(line)


def _duration(value: str, where: str) -> dict[str, int]:
    match = _DURATION.fullmatch(value)
    if match is None:
        raise UntranslatableError(f"{where} = {value!r} is not a duration such as '600s'")
    nanos = int((match[2] or "").ljust(9, "0"))
    return {"seconds": int(match[1]), "nanos": nanos} if nanos else {"seconds": int(match[1])}


class _Stack:
    """One synthesized stack: its Google project, and references resolved to paths."""

    def __init__(self, stack: Mapping[str, Any]) -> None:
        providers = stack.get("provider", {}).get("google", [])
        if len(providers) != 1:
            raise UntranslatableError(
                f"expected one google provider in the stack, found {len(providers)}"
            )
        self.provider: Mapping[str, Any] = providers[0]
        self.resources: Mapping[str, Mapping[str, Any]] = stack.get("resource", {})

    def project(self, resource: Mapping[str, Any]) -> str:
        project = resource.get("project", self.provider.get("project"))
        if not isinstance(project, str):
            raise UntranslatableError("no project: neither the resource nor the provider names one")
        return project

    def path(self, kind: str, logical_id: str) -> str:
        resource = self.resources.get(kind, {}).get(logical_id)
        if resource is None:
            raise UntranslatableError(f"a reference to {kind}.{logical_id}, which is not there")
        plural = "topics" if kind == TOPIC else "subscriptions"
        return f"projects/{self.project(resource)}/{plural}/{resource['name']}"

    def resolve(self, value: Any, where: str) -> Any:
        """`${google_pubsub_topic.X.id}` and the like as the API names them; any other
        interpolation cannot be known without Terraform."""
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        if not isinstance(value, str) or "${" not in value:
            return value
        reference = references.whole(value)
        if (
            reference is None
            or reference.type not in (TOPIC, SUBSCRIPTION)
            or reference.attribute not in ("id", "name")
        ):
            raise UntranslatableError(f"{where} = {value!r} refers to something not in Pub/Sub")
        path = self.path(reference.type, reference.id)
        return path if reference.attribute == "id" else path.rsplit("/", 1)[1]

    def topic_path(self, topic: str, subscription: Mapping[str, Any]) -> str:
        """A subscription's `topic` is a name (then in its own project) or a full path."""
        if topic.startswith("projects/"):
            return topic
        return f"projects/{self.project(subscription)}/topics/{topic}"

    def labels(self, resource: Mapping[str, Any]) -> dict[str, str]:
        """The provider's default labels with the resource's own, as Google would hold them."""
        return {**self.provider.get("default_labels", {}), **resource.get("labels", {})}


def _topic(stack: _Stack, logical_id: str, resource: Mapping[str, Any], out: Topology) -> None:
    where = f"{TOPIC}.{logical_id}"
    request: dict[str, Any] = {"name": stack.path(TOPIC, logical_id)}
    for key, value in resource.items():
        if key in _META or key in ("name", "project", "labels"):
            continue
        if key == "message_retention_duration":
            request[key] = _duration(value, f"{where}.{key}")
        elif key == "kms_key_name":
            out.note("KMS: topics are held without their kms_key_name (the emulator has no KMS)")
        else:
            raise UntranslatableError(f"{where}.{key} cannot be loaded into the emulator")
    request["labels"] = stack.labels(resource)
    out.topics.append(request)


def _retention(value: str, where: str, name: str, out: Topology) -> dict[str, int]:
    duration = _duration(value, where)
    if duration["seconds"] > EMULATOR_MAX_SUBSCRIPTION_RETENTION_SECONDS:
        out.note(
            f"{name}: message_retention_duration {value} held as"
            f" {EMULATOR_MAX_SUBSCRIPTION_RETENTION_SECONDS}s, the emulator's most (Google's"
            " service keeps up to 31 days)"
        )
        return {"seconds": EMULATOR_MAX_SUBSCRIPTION_RETENTION_SECONDS}
    return duration


def _expiration(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`ttl = ""` is Terraform's "never expire": an expiration policy without a ttl."""
    ttl = value.get("ttl", "")
    return {"ttl": _duration(ttl, f"{where}.ttl")} if ttl else {}


def _subscription(
    stack: _Stack, logical_id: str, resource: Mapping[str, Any], out: Topology
) -> None:
    where = f"{SUBSCRIPTION}.{logical_id}"
    path = stack.path(SUBSCRIPTION, logical_id)
    request: dict[str, Any] = {"name": path}
    settings: dict[str, Callable[[Any, str], Any]] = {
        "topic": lambda value, at: stack.topic_path(stack.resolve(value, at), resource),
        "ack_deadline_seconds": lambda value, at: int(value),
        "message_retention_duration": lambda value, at: _retention(value, at, path, out),
        "retry_policy": lambda value, at: {
            key: _duration(item, f"{at}.{key}") for key, item in value.items()
        },
        "dead_letter_policy": stack.resolve,
        "expiration_policy": _expiration,
        "enable_message_ordering": lambda value, at: bool(value),
        "enable_exactly_once_delivery": lambda value, at: bool(value),
    }
    for key, value in resource.items():
        if key in _META or key in ("name", "project", "labels"):
            continue
        if key not in settings:
            raise UntranslatableError(f"{where}.{key} cannot be loaded into the emulator")
        request[key] = settings[key](value, f"{where}.{key}")
    request["labels"] = stack.labels(resource)
    out.subscriptions.append(request)


def topology(stack: Mapping[str, Any]) -> Topology:
    """The stack's Pub/Sub part as API requests; raises before anything is created."""
    resources: Mapping[str, Mapping[str, Any]] = stack.get("resource", {})
    out = Topology()
    if TOPIC not in resources:
        return out
    parsed = _Stack(stack)
    for logical_id, resource in sorted(resources[TOPIC].items()):
        _topic(parsed, logical_id, resource, out)
    for logical_id, resource in sorted(resources.get(SUBSCRIPTION, {}).items()):
        _subscription(parsed, logical_id, resource, out)
    left_out: dict[str, int] = {}
    for kind in sorted(resources):
        if kind in _NOT_HELD:
            left_out[_NOT_HELD[kind]] = left_out.get(_NOT_HELD[kind], 0) + len(resources[kind])
        elif kind.startswith("google_") and kind not in (TOPIC, SUBSCRIPTION):
            raise UntranslatableError(f"{kind} cannot be loaded into the emulator")
    for what, count in sorted(left_out.items()):
        out.note(f"{what}: {count} left out")
    return out


def wiring(stack: Mapping[str, Any], who: str) -> dict[str, Any]:
    """The Pub/Sub part of output `who` (`producer`, `worker_<n>`), paths resolved as the
    deployed state would give them."""
    outputs = stack.get("output", {})
    if who not in outputs:
        workers = sorted(key for key in outputs if key.startswith("worker_"))
        raise UntranslatableError(f"the stack has no output {who}; it has {', '.join(workers)}")
    pubsub = outputs[who]["value"].get("pubsub")
    if pubsub is None:
        raise UntranslatableError(f"output {who} has no pubsub part")
    return {"pubsub": _Stack(stack).resolve(pubsub, f"output.{who}")}


def load(plan: Topology) -> list[str]:
    """Create what `plan` holds in the emulator. What is there already must have the same
    settings (the emulator cannot change them all in place); all is checked before anything
    is created, so a refused load leaves the emulator as it was."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    kinds = [
        ("topic", plan.topics, publisher.get_topic, publisher.create_topic),
        (
            "subscription",
            plan.subscriptions,
            subscriber.get_subscription,
            subscriber.create_subscription,
        ),
    ]
    done, missing = [], []
    for kind, requests, get, create in kinds:
        for request in requests:
            try:
                existing = get(**{kind: request["name"]}, **_CALL)
            except NotFound:
                missing.append((kind, request, create))
                continue
            message = type(existing)
            held, wanted = message.to_dict(existing), message.to_dict(message(request))
            if any(held[key] != wanted[key] for key in request):
                raise UntranslatableError(
                    f"{kind} {request['name']} is already in the emulator with other settings;"
                    " restart the emulator (it keeps nothing on disk) and load again"
                )
            done.append(f"{kind} {request['name']} is already there")
    for kind, request, create in missing:
        create(request=request, **_CALL)
        done.append(f"created {kind} {request['name']}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_dir", type=Path, help="cdktf.out/stacks/<env>")
    parser.add_argument(
        "worker", nargs="?", help="then print the variables of this worker (or `producer`)"
    )
    args = parser.parse_args(argv)
    host = os.environ.get(EMULATOR_VARIABLE, "")
    if not host:
        print(
            f"error: {EMULATOR_VARIABLE} is not set; start the emulator and set it to its"
            " host:port (this loads an emulator only, never Google's service)",
            file=sys.stderr,
        )
        return 2
    try:
        part, stack = part_holding(args.stack_dir, "pubsub")
        worker = worker_number(stack, args.stack_dir.name, args.worker) if args.worker else 0
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    synthesized_file = part / "cdk.tf.json"
    producer = worker is None
    name = "producer" if producer else f"worker_{worker}" if worker else None
    try:
        plan = topology(stack)
        if not plan.topics:
            print(f"error: {synthesized_file} has no Pub/Sub topics", file=sys.stderr)
            return 2
        lines = env_lines(wiring(stack, name), producer=producer) if name else []
        done = load(plan)
    except UntranslatableError as error:
        print(f"error: {synthesized_file}: {error}", file=sys.stderr)
        return 2
    except GoogleAPIError as error:
        print(f"error: the emulator at {host} did not take the load: {error}", file=sys.stderr)
        return 1
    for line in done:
        print(f"# {line}", file=sys.stderr)
    for line in plan.not_held:
        print(f"# not in the emulator: {line}", file=sys.stderr)
    if name:
        print(f"{EMULATOR_VARIABLE}={host}")
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
