from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import load_environment
from tools import rabbitmq_definitions
from tools.rabbitmq_definitions import DefinitionsError, definitions

PROJECT_CONFIG = Path(__file__).resolve().parent.parent.parent / "config"


def test_dev_topology_as_definitions(stack_json: dict[str, dict[str, Any]]) -> None:
    result = definitions(stack_json["dev"])
    workers = load_environment(PROJECT_CONFIG, "dev").workers
    names = [f"worker_queue_{n}" for n in range(1, workers + 1)]
    assert result["vhosts"] == [
        {
            "name": "ml-queues-dev",
            "description": "ml-queues training tasks, environment dev",
            "default_queue_type": "quorum",
            "metadata": {
                "description": "ml-queues training tasks, environment dev",
                "default_queue_type": "quorum",
            },
        }
    ]
    exchange = {"vhost": "ml-queues-dev", "durable": True, "auto_delete": False}
    assert result["exchanges"] == [
        {**exchange, "name": "ml_tasks", "type": "direct", "internal": False, "arguments": {}},
        *(
            {**exchange, "name": name, "type": "fanout", "internal": False, "arguments": {}}
            for name in ("ml_tasks.dead_letter", "ml_tasks.unroutable")
        ),
    ]
    assert sorted(q["name"] for q in result["queues"]) == [
        "ml_tasks.dead_letter",
        "ml_tasks.unroutable",
        *names,
    ]
    for queue in result["queues"]:
        assert queue["durable"] and queue["vhost"] == "ml-queues-dev"
        assert queue["arguments"] == {"x-queue-type": "quorum"}
    assert sorted(
        (b["source"], b["destination"], b["routing_key"]) for b in result["bindings"]
    ) == [("ml_tasks", name, name) for name in names] + [
        ("ml_tasks.dead_letter", "ml_tasks.dead_letter", ""),
        ("ml_tasks.unroutable", "ml_tasks.unroutable", ""),
    ]
    policies = {p["name"]: p for p in result["policies"]}
    assert policies["ml_tasks-exchange"]["apply-to"] == "exchanges"
    assert policies["ml_tasks-exchange"]["definition"] == {
        "alternate-exchange": "ml_tasks.unroutable"
    }
    assert policies["ml_tasks-workers"]["definition"] == {
        "dead-letter-exchange": "ml_tasks.dead_letter",
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
        "delivery-limit": 20,
    }
    reads = {p["user"]: p["read"] for p in result["permissions"]}
    assert reads == {
        "ml-queues-dev-producer": "^$",
        **{f"ml-queues-dev-worker-{n}": f"^worker_queue_{n}$" for n in range(1, workers + 1)},
    }
    assert "users" not in result


def test_stacks_without_rabbitmq_give_empty_definitions(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    assert all(not entries for entries in definitions(stack_json["local"]).values())


def test_policies_and_permissions_use_the_broker_spelling() -> None:
    stack = {
        "resource": {
            "rabbitmq_vhost": {"v": {"name": "ml"}},
            "rabbitmq_policy": {
                "p": {
                    "name": "limits",
                    "vhost": "${rabbitmq_vhost.v.name}",
                    "policy": {
                        "pattern": "^worker",
                        "priority": 1,
                        "apply_to": "quorum_queues",
                        "definition": {"delivery-limit": "5", "dead-letter-exchange": "dlx"},
                    },
                }
            },
            "rabbitmq_permissions": {
                "w": {
                    "user": "worker_1",
                    "vhost": "${rabbitmq_vhost.v.name}",
                    "permissions": {"configure": "^$", "write": "^$", "read": "^worker_queue_1$"},
                }
            },
        }
    }
    result = definitions(stack)
    assert result["policies"] == [
        {
            "vhost": "ml",
            "name": "limits",
            "pattern": "^worker",
            "apply-to": "quorum_queues",
            "priority": 1,
            "definition": {"delivery-limit": 5, "dead-letter-exchange": "dlx"},
        }
    ]
    assert result["permissions"] == [
        {
            "user": "worker_1",
            "vhost": "ml",
            "configure": "^$",
            "write": "^$",
            "read": "^worker_queue_1$",
        }
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${rabbitmq_vhost.missing.name}", "not set on that resource"),
        ("${var.vhost}", "not a plain reference"),
    ],
)
def test_unresolvable_references_are_errors(value: str, message: str) -> None:
    stack = {"resource": {"rabbitmq_queue": {"q": {"name": "q", "vhost": value, "settings": {}}}}}
    with pytest.raises(DefinitionsError, match=message):
        definitions(stack)


def test_command_writes_the_file(synth_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "defs" / "dev.json"
    stack_file = synth_dir / "stacks" / "dev" / "cdk.tf.json"
    assert rabbitmq_definitions.main([str(stack_file.parent), "--output", str(output)]) == 0
    written = json.loads(output.read_text())
    assert written == definitions(json.loads(stack_file.read_text()))


def test_command_names_the_environments_for_an_unknown_one(
    synth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rabbitmq_definitions.main([str(synth_dir / "stacks" / "dve")]) == 2
    assert capsys.readouterr().err == (
        "error: ENV = 'dve' names no environment; expected one of dev, local, prod, staging\n"
    )


def test_arguments_json_becomes_typed_arguments_on_queues_and_bindings() -> None:
    stack = {
        "resource": {
            "rabbitmq_queue": {
                "q": {"name": "q", "settings": {"arguments_json": '{"x-queue-type": "quorum"}'}}
            },
            "rabbitmq_binding": {
                "b": {
                    "source": "e",
                    "vhost": "v",
                    "destination": "q",
                    "destination_type": "queue",
                    "arguments_json": '{"x-match": "all", "priority": 3}',
                }
            },
        }
    }
    result = definitions(stack)
    assert result["queues"][0]["arguments"] == {"x-queue-type": "quorum"}
    assert result["bindings"][0]["arguments"] == {"x-match": "all", "priority": 3}
    assert result["bindings"][0]["routing_key"] == ""


def test_the_password_hash_is_rabbitmq_s_salted_sha256() -> None:
    """The scheme of RabbitMQ's guide ("Computing a password hash"): base64 of the 4-byte
    salt followed by SHA-256(salt + password)."""
    salt = bytes.fromhex("908dc60a")
    expected = base64.b64encode(salt + hashlib.sha256(salt + b"test12").digest()).decode()
    assert rabbitmq_definitions.password_hash("test12", salt) == expected
    # A fresh salt each time: two users with one password do not share a hash.
    assert rabbitmq_definitions.password_hash("x") != rabbitmq_definitions.password_hash("x")


def test_users_come_with_their_hashes_only_when_their_passwords_are_given(
    synth_dir: Path,
) -> None:
    stack = json.loads((synth_dir / "emulated" / "stacks" / "local" / "cdk.tf.json").read_text())
    assert "users" not in definitions(stack)
    names = [f"ml-queues-local-{who}" for who in ("producer", "worker-1", "worker-2", "worker-3")]
    passwords = {name: rabbitmq_definitions.generated_password() for name in names}
    result = definitions(stack, passwords)
    assert [user["name"] for user in result["users"]] == names
    for user in result["users"]:
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        salted = base64.b64decode(user["password_hash"])
        password = passwords[user["name"]].encode()
        assert salted[4:] == hashlib.sha256(salted[:4] + password).digest()
    text = json.dumps(result)
    assert not any(password in text for password in passwords.values())
    with pytest.raises(DefinitionsError, match="no password given for the user"):
        definitions(stack, {names[0]: "x"})


def test_generated_passwords_are_long_hex_and_never_start_like_an_option() -> None:
    passwords = {rabbitmq_definitions.generated_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(password) == 48 and int(password, 16) >= 0 for password in passwords)


def test_the_wiring_names_what_the_broker_holds(synth_dir: Path) -> None:
    stack = json.loads((synth_dir / "emulated" / "stacks" / "local" / "cdk.tf.json").read_text())
    assert rabbitmq_definitions.wiring(stack, "worker_2") == {
        "rabbitmq": {
            "vhost": "ml-queues-local",
            "exchange": "ml_tasks",
            "queue": "worker_queue_2",
            "user": "ml-queues-local-worker-2",
        }
    }
    producer = rabbitmq_definitions.wiring(stack, "producer")["rabbitmq"]
    assert producer["routing_keys"] == ["worker_queue_1", "worker_queue_2", "worker_queue_3"]
    with pytest.raises(DefinitionsError, match="no RabbitMQ part in an output 'worker_9'"):
        rabbitmq_definitions.wiring(stack, "worker_9")


def test_command_finds_a_rabbitmq_part_loaded_into_an_emulator(
    synth_dir: Path, tmp_path: Path
) -> None:
    """`make rabbitmq-definitions ENV=local`: local keeps its RabbitMQ part out of Terraform."""
    output = tmp_path / "local.json"
    args = [str(synth_dir / "stacks" / "local"), "--output", str(output)]
    assert rabbitmq_definitions.main(args) == 0
    stack = json.loads((synth_dir / "emulated" / "stacks" / "local" / "cdk.tf.json").read_text())
    assert json.loads(output.read_text()) == definitions(stack)
