"""Turn the RabbitMQ part of a synthesized stack into a RabbitMQ definitions file.

Why: operators who boot brokers from definitions (`rabbitmqctl import_definitions`, or
`definitions.local.path` at boot) need the same topology that Terraform would create, and
the integration tests load a real broker this way. Reading `cdk.tf.json` rather than the
Python objects means the file shows exactly what Terraform gets.

Users are not exported: their passwords (SSM parameters or Terraform variables) never reach
the JSON, and a definitions file needs a password hash. Create them on the broker separately,
or, where the caller holds their passwords (it generated them), give them to `definitions`,
which adds each user with its salted hash only.

    python -m tools.rabbitmq_definitions cdktf.out/stacks/dev > definitions.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools import references
from tools.operator_input import OperatorError, part_holding

_DEFAULT_VHOST = "/"
# RabbitMQ's default password hashing, on every line since 3.6.
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"


class DefinitionsError(ValueError):
    """The stack holds something a definitions file cannot express."""


def _resolver(resources: Mapping[str, Mapping[str, Any]]) -> Any:
    def resolve(value: Any) -> Any:
        """Replace `${rabbitmq_x.id.attr}` with that resource's configured attribute."""
        if not isinstance(value, str):
            return value
        reference = references.whole(value)
        if reference is None or not reference.type.startswith("rabbitmq_"):
            if "${" in value:
                raise DefinitionsError(f"cannot resolve {value!r}: not a plain reference")
            return value
        try:
            return resources[reference.type][reference.id][reference.attribute]
        except KeyError:
            raise DefinitionsError(
                f"cannot resolve {value!r}: {reference.attribute!r} is not set on that resource"
            ) from None

    return resolve


def _policy_value(value: str) -> int | str:
    """The provider sends values that parse as integers as integers; do the same."""
    try:
        return int(value)
    except ValueError:
        return value


def _arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """Queue settings and bindings take `arguments` or `arguments_json`, never both."""
    if "arguments_json" in body:
        arguments: dict[str, Any] = json.loads(body["arguments_json"])
        return arguments
    return dict(body.get("arguments", {}))


def password_hash(password: str, salt: bytes | None = None) -> str:
    """`password` as RabbitMQ stores it (`rabbit_password_hashing_sha256`): a 4-byte salt,
    then the SHA-256 of the salt and the password, base64-encoded together."""
    salt = secrets.token_bytes(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def generated_password() -> str:
    """48 hex digits: a URL-safe token may start with "-", which a command line reads as an
    option."""
    return secrets.token_hex(24)


def _users(stack: Mapping[str, Any], passwords: Mapping[str, str]) -> list[dict[str, Any]]:
    users = stack.get("resource", {}).get("rabbitmq_user", {})
    missing = sorted(body["name"] for body in users.values() if body["name"] not in passwords)
    if missing:
        raise DefinitionsError(f"no password given for the user(s) {', '.join(missing)}")
    return [
        {
            "name": body["name"],
            "password_hash": password_hash(passwords[body["name"]]),
            "hashing_algorithm": HASHING_ALGORITHM,
            "tags": list(body.get("tags", [])),
        }
        for _, body in sorted(users.items())
    ]


def wiring(stack: Mapping[str, Any], who: str) -> dict[str, Any]:
    """The RabbitMQ part of output `who` (`producer`, `worker_<n>`), its names resolved as
    the broker holds them."""
    outputs = stack.get("output", {})
    part = outputs.get(who, {}).get("value", {}).get("rabbitmq")
    if part is None:
        raise DefinitionsError(f"the stack has no RabbitMQ part in an output {who!r}")
    resources = {
        resource_type: bodies
        for resource_type, bodies in stack.get("resource", {}).items()
        if resource_type.startswith("rabbitmq_")
    }
    resolve = _resolver(resources)
    return {
        "rabbitmq": {
            key: [resolve(item) for item in value] if isinstance(value, list) else resolve(value)
            for key, value in part.items()
        }
    }


def definitions(
    stack: Mapping[str, Any], passwords: Mapping[str, str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The definitions for every rabbitmq_* resource of one synthesized stack; with
    `passwords` (by user name), its users too, as salted hashes."""
    resources: dict[str, dict[str, dict[str, Any]]] = {
        resource_type: bodies
        for resource_type, bodies in stack.get("resource", {}).items()
        if resource_type.startswith("rabbitmq_")
    }
    resolve = _resolver(resources)

    def each(resource_type: str) -> list[dict[str, Any]]:
        bodies = resources.get(resource_type, {})
        return [
            {key: resolve(value) for key, value in body.items() if key != "//"}
            for _, body in sorted(bodies.items())
        ]

    result: dict[str, list[dict[str, Any]]] = {
        "vhosts": [],
        "permissions": [],
        "policies": [],
        "exchanges": [],
        "queues": [],
        "bindings": [],
    }
    for vhost in each("rabbitmq_vhost"):
        metadata: dict[str, Any] = {
            key: vhost[key] for key in ("description", "default_queue_type") if key in vhost
        }
        result["vhosts"].append({"name": vhost["name"], **metadata, "metadata": metadata})
    for permission in each("rabbitmq_permissions"):
        result["permissions"].append(
            {
                "user": permission["user"],
                "vhost": permission.get("vhost", _DEFAULT_VHOST),
                **{key: resolve(value) for key, value in permission["permissions"].items()},
            }
        )
    for policy in each("rabbitmq_policy"):
        body = policy["policy"]
        result["policies"].append(
            {
                "vhost": policy["vhost"],
                "name": policy["name"],
                "pattern": body["pattern"],
                "apply-to": body["apply_to"],
                "priority": body["priority"],
                "definition": {
                    key: _policy_value(resolve(value)) for key, value in body["definition"].items()
                },
            }
        )
    for exchange in each("rabbitmq_exchange"):
        settings = exchange["settings"]
        result["exchanges"].append(
            {
                "name": exchange["name"],
                "vhost": exchange.get("vhost", _DEFAULT_VHOST),
                "type": settings["type"],
                "durable": settings.get("durable", False),
                "auto_delete": settings.get("auto_delete", False),
                "internal": False,
                "arguments": dict(settings.get("arguments", {})),
            }
        )
    for queue in each("rabbitmq_queue"):
        settings = queue["settings"]
        result["queues"].append(
            {
                "name": queue["name"],
                "vhost": queue.get("vhost", _DEFAULT_VHOST),
                "durable": settings.get("durable", False),
                "auto_delete": settings.get("auto_delete", False),
                "arguments": _arguments(settings),
            }
        )
    for binding in each("rabbitmq_binding"):
        result["bindings"].append(
            {
                "source": binding["source"],
                "vhost": binding["vhost"],
                "destination": binding["destination"],
                "destination_type": binding["destination_type"],
                "routing_key": binding.get("routing_key", ""),
                "arguments": _arguments(binding),
            }
        )
    if passwords is not None:
        result["users"] = _users(stack, passwords)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_dir", type=Path, help="cdktf.out/stacks/<env>")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)
    try:
        _, stack = part_holding(args.stack_dir, "rabbitmq")
        text = json.dumps(definitions(stack), indent=2, sort_keys=True)
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"error: {args.stack_dir}: {error}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text + "\n")
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
