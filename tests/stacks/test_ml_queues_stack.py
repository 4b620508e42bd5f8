"""What each environment's stack holds, read from the app synthesized once for the session."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cdktf import Testing

from stacks.ml_queues_stack import MlQueuesStack
from stacks.settings import ENVIRONMENTS, ConfigError, load_environment
from tests.synth_helpers import environment, resources, selected_by_tags, synth_environment

PROJECT_CONFIG = Path(__file__).resolve().parent.parent.parent / "config"
# The environments with every backend deployed through Terraform; `local` deploys SQS only,
# and loads the others into emulators.
CLOUD_ENVIRONMENTS = ("dev", "staging", "prod")
SEED_QUEUE = {
    "delay_seconds": 90,
    "max_message_size": 262144,
    "message_retention_seconds": 86400,
    "receive_wait_time_seconds": 10,
}


def test_one_stack_per_environment(stack_json: dict[str, dict[str, Any]]) -> None:
    assert sorted(stack_json) == sorted(ENVIRONMENTS)


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_sqs_queue_has_the_seed_values_and_the_environment_in_its_name(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    queues = {q["name"]: q for q in resources(stack_json[env], "aws_sqs_queue")}
    # A copy: the parsed stacks are shared by every test of the session.
    queue = {
        key: value
        for key, value in queues[f"mlTrainingQueue-{env}"].items()
        if key not in ("//", "lifecycle", "policy", "redrive_policy")
    }
    duration = load_environment(PROJECT_CONFIG, env).max_task_duration_seconds
    assert queue == {
        "name": f"mlTrainingQueue-{env}",
        **SEED_QUEUE,
        "visibility_timeout_seconds": duration,
        "sqs_managed_sse_enabled": True,
        "tags": {"task_channel": f"mlTrainingQueue-{env}", "queue_role": "task"},
    }


def _tags(env: str) -> dict[str, str]:
    """What every taggable resource of `env` must carry, written out, not taken from the code."""
    return {"project": "ml-queues", "environment": env, "managed_by": "cdktf"}


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_sqs_one_queue_per_worker_and_a_shared_one_each_with_a_dead_letter_queue(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    workers = load_environment(PROJECT_CONFIG, env).workers
    names = {q["name"] for q in resources(stack_json[env], "aws_sqs_queue")}
    sources = [f"mlTrainingQueue-{env}"] + [
        f"mlTrainingQueue-{env}-worker-{n}" for n in range(1, workers + 1)
    ]
    assert names == {*sources, *(f"{name}-dlq" for name in sources)}
    # Every guarantee is an argument of the queues: no policy resource that waits of its own.
    queues = {q["name"]: q for q in resources(stack_json[env], "aws_sqs_queue")}
    for name in sources:
        assert '"maxReceiveCount"' in queues[name]["redrive_policy"]
        assert f':{name}"' in queues[f"{name}-dlq"]["redrive_allow_policy"]
        for queue in (name, f"{name}-dlq"):
            assert f':{queue}","Condition"' in queues[queue]["policy"]
    assert not {
        "aws_sqs_queue_policy",
        "aws_sqs_queue_redrive_policy",
        "aws_sqs_queue_redrive_allow_policy",
    } & set(stack_json[env]["resource"])
    urls = stack_json[env]["output"]["sqs_worker_queue_urls"]["value"]
    assert len(urls) == workers


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_sqs_three_alarms_whatever_the_workers_each_selecting_its_queues_by_tag(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    queues = resources(stack_json[env], "aws_sqs_queue")
    tags = {queue["name"]: queue["tags"] for queue in queues}
    dead_letter_queues = {name for name in tags if name.endswith("-dlq")}
    alarms = {
        alarm["alarm_name"]: alarm
        for alarm in resources(stack_json[env], "aws_cloudwatch_metric_alarm")
    }
    assert sorted(alarms) == [
        f"mlTrainingQueue-{env}-alarms-blind",
        f"mlTrainingQueue-{env}-dead-letters",
        f"mlTrainingQueue-{env}-oldest-task",
    ]
    blind = alarms[f"mlTrainingQueue-{env}-alarms-blind"]
    assert selected_by_tags(blind["metric_query"][0]["expression"], tags) == set(tags)
    assert blind["treat_missing_data"] == "breaching"
    oldest = alarms[f"mlTrainingQueue-{env}-oldest-task"]
    [query] = oldest["metric_query"]
    # One series per queue, highest first: each is a contributor that names its queue.
    assert query["expression"].startswith(
        'SELECT MAX(ApproximateAgeOfOldestMessage) FROM SCHEMA("AWS/SQS", QueueName)'
    )
    assert "GROUP BY QueueName ORDER BY MAX() DESC" in query["expression"]
    assert selected_by_tags(query["expression"], tags) == set(tags) - dead_letter_queues
    assert (oldest["threshold"], oldest["comparison_operator"]) == (3600, "GreaterThanThreshold")
    dead = alarms[f"mlTrainingQueue-{env}-dead-letters"]
    [query] = dead["metric_query"]
    # One series for every DLQ: quiet queues keep it in the state it is in.
    assert query["expression"].startswith(
        'SELECT SUM(ApproximateNumberOfMessagesVisible) FROM SCHEMA("AWS/SQS", QueueName)'
    )
    assert selected_by_tags(query["expression"], tags) == dead_letter_queues
    assert (dead["threshold"], dead["treat_missing_data"]) == (0, "ignore")
    for alarm in alarms.values():
        assert alarm["metric_query"][0]["return_data"] is True


def test_prod_alarms_notify_a_topic_and_a_channel_of_its_own(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    """prod tells someone: every alarm and alerting policy names the stack's own topic or
    channel, each with the on-call address subscribed; dev and staging say nothing."""
    prod = stack_json["prod"]
    [topic_id] = prod["resource"]["aws_sns_topic"]
    for alarm in resources(prod, "aws_cloudwatch_metric_alarm"):
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic_id}.arn}}"]
    [subscription] = resources(prod, "aws_sns_topic_subscription")
    [channel_id] = prod["resource"]["google_monitoring_notification_channel"]
    [channel] = resources(prod, "google_monitoring_notification_channel")
    assert subscription["endpoint"] == channel["labels"]["email_address"]
    for alert in resources(prod, "google_monitoring_alert_policy"):
        assert alert["notification_channels"] == [
            f"${{google_monitoring_notification_channel.{channel_id}.name}}"
        ]
    for env in ("dev", "staging"):
        assert "aws_sns_topic" not in stack_json[env]["resource"]
        assert "google_monitoring_notification_channel" not in stack_json[env]["resource"]


def test_prod_grants_each_worker_role_its_own_queue_and_the_shared_one(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    prod = stack_json["prod"]
    workers = load_environment(PROJECT_CONFIG, "prod").workers
    names = {queue_id: body["name"] for queue_id, body in prod["resource"]["aws_sqs_queue"].items()}
    grants: dict[str, list[dict[str, Any]]] = {}
    for policy in resources(prod, "aws_iam_role_policy"):
        if policy["name"].startswith("mlTrainingQueue-"):
            grants.setdefault(policy["role"], []).append(policy)
    # One SQS inline policy per role, so a role's total stays within IAM's cap for any N.
    [producer] = grants.pop("ml-queues-prod-producer")
    assert producer["name"] == "mlTrainingQueue-prod-producer"
    # The worker queues of the stack's own account, which its provider reports, and no
    # other account's queues of the same names.
    pattern = re.search(
        r'"(arn:aws:sqs:us-east-1:[^"]*:mlTrainingQueue-prod-worker-\*)"', producer["policy"]
    )
    assert pattern is not None
    assert pattern.group(1) == (
        "arn:aws:sqs:us-east-1:${data.aws_caller_identity.sqs_account.account_id}"
        ":mlTrainingQueue-prod-worker-*"
    )
    assert list(prod["data"]["aws_caller_identity"]) == ["sqs_account"]
    own = pattern.group(1).replace(
        "${data.aws_caller_identity.sqs_account.account_id}", "111122223333"
    )
    assert fnmatch.fnmatchcase(
        "arn:aws:sqs:us-east-1:111122223333:mlTrainingQueue-prod-worker-3", own
    )
    assert not fnmatch.fnmatchcase(
        "arn:aws:sqs:us-east-1:444455556666:mlTrainingQueue-prod-worker-3", own
    )
    assert sorted(grants) == sorted(f"ml-queues-prod-worker-{n}" for n in range(1, workers + 1))
    ids = {name: queue_id for queue_id, name in names.items()}
    for n in range(1, workers + 1):
        [policy] = grants[f"ml-queues-prod-worker-{n}"]
        assert policy["name"] == f"mlTrainingQueue-prod-worker-{n}-consumer"
        own, shared = ids[f"mlTrainingQueue-prod-worker-{n}"], ids["mlTrainingQueue-prod"]
        assert f"[aws_sqs_queue.{own}.arn, aws_sqs_queue.{shared}.arn]" in policy["policy"]
    assert len(names) == 2 * (workers + 1)


def test_prod_lets_each_role_read_its_own_rabbitmq_password_and_no_other(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    prod = stack_json["prod"]
    workers = load_environment(PROJECT_CONFIG, "prod").workers
    parameters = {
        logical_id: body["name"]
        for logical_id, body in prod["resource"]["aws_ssm_parameter"].items()
    }
    read: dict[str, list[str]] = {}
    for policy in resources(prod, "aws_iam_role_policy"):
        if policy["name"].endswith("-rabbitmq-password"):
            names = re.findall(r"aws_ssm_parameter\.(\w+)\.arn", policy["policy"])
            assert '\\"ssm:GetParameter\\"]' in json.dumps(policy["policy"])
            read.setdefault(policy["role"], []).extend(parameters[name] for name in names)
    assert read == {
        "ml-queues-prod-producer": ["/ml-queues/prod/rabbitmq/ml-queues-prod-producer"],
        **{
            f"ml-queues-prod-worker-{n}": [f"/ml-queues/prod/rabbitmq/ml-queues-prod-worker-{n}"]
            for n in range(1, workers + 1)
        },
    }
    policy_names = [p["name"] for p in resources(prod, "aws_iam_role_policy")]
    assert len(policy_names) == len(set(policy_names)) == 2 * (workers + 1)


def test_prod_pubsub_grants_publish_to_the_producer_and_one_subscription_per_worker(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    prod = stack_json["prod"]
    publishers = {m["member"] for m in resources(prod, "google_pubsub_topic_iam_member")}
    assert "serviceAccount:ml-producer@ml-queues-prod.iam.gserviceaccount.com" in publishers
    workers = load_environment(PROJECT_CONFIG, "prod").workers
    members = [m["member"] for m in resources(prod, "google_pubsub_subscription_iam_member")]
    for n in range(1, workers + 1):
        # Its own subscription and the shared one.
        assert (
            members.count(f"serviceAccount:ml-worker-{n}@ml-queues-prod.iam.gserviceaccount.com")
            == 2
        )


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_pubsub_names_carry_the_environment_and_each_worker_has_a_subscription(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    settings = load_environment(PROJECT_CONFIG, env)
    topics = {t["name"] for t in resources(stack_json[env], "google_pubsub_topic")}
    assert topics == {
        f"mlTrainingTopic-{env}",
        f"mlTrainingTopic-{env}-dead-letter",
        *(f"mlTrainingTopic-{env}-worker-{n}" for n in range(1, settings.workers + 1)),
    }
    subscriptions = {s["name"]: s for s in resources(stack_json[env], "google_pubsub_subscription")}
    base = f"mlTrainingSubscription-{env}"
    assert set(subscriptions) == {
        base,
        f"{base}-dead-letter",
        *(f"{base}-worker-{n}" for n in range(1, settings.workers + 1)),
    }
    assert subscriptions[base]["ack_deadline_seconds"] == settings.max_task_duration_seconds
    # Two alerting policies whatever the workers: the oldest task's age on every task
    # subscription (an incident per subscription), and dead letters waiting.
    alerts = resources(stack_json[env], "google_monitoring_alert_policy")
    assert sorted(a["display_name"].split(":")[0] for a in alerts) == [
        f"{base}, {base}-worker-*",
        f"{base}-dead-letter",
    ]
    tags = _tags(env)
    assert all(alert["user_labels"] == tags for alert in alerts)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_provider_tags_what_it_creates_with_project_and_environment(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    tags = _tags(env)
    providers = stack_json[env]["provider"]
    assert providers["aws"][0]["default_tags"] == [{"tags": tags}]
    if "google" in providers:
        assert providers["google"][0]["default_labels"] == tags


def test_only_prod_protects_queues_topics_and_subscriptions_from_destroy(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    kinds = ("aws_sqs_queue", "google_pubsub_topic", "google_pubsub_subscription")
    for env in CLOUD_ENVIRONMENTS:
        protected = {
            body.get("lifecycle", {}).get("prevent_destroy")
            for kind in kinds
            for body in resources(stack_json[env], kind)
        }
        assert protected == ({True} if env == "prod" else {None})


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_rabbitmq_seed_names_inside_a_vhost_of_the_environment(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    settings = load_environment(PROJECT_CONFIG, env)
    synthesized = stack_json[env]
    [vhost] = resources(synthesized, "rabbitmq_vhost")
    assert vhost["name"] == f"ml-queues-{env}"
    assert vhost["default_queue_type"] == "quorum"
    exchanges = {e["name"]: e for e in resources(synthesized, "rabbitmq_exchange")}
    assert sorted(exchanges) == ["ml_tasks", "ml_tasks.dead_letter", "ml_tasks.unroutable"]
    assert exchanges["ml_tasks"]["vhost"] == "${rabbitmq_vhost.vhost.name}"
    queues = sorted(q["name"] for q in resources(synthesized, "rabbitmq_queue"))
    expected = sorted(f"worker_queue_{n}" for n in range(1, settings.workers + 1))
    assert queues == sorted([*expected, "ml_tasks.dead_letter", "ml_tasks.unroutable"])
    routing_keys = sorted(b["routing_key"] for b in resources(synthesized, "rabbitmq_binding"))
    assert routing_keys == sorted(["", "", *expected])


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_rabbitmq_consumer_timeout_follows_the_task_duration_where_the_broker_has_it(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    settings = load_environment(PROJECT_CONFIG, env)
    assert settings.backends["rabbitmq"] is not None
    [policy] = [
        p for p in resources(stack_json[env], "rabbitmq_policy") if p["name"] == "ml_tasks-workers"
    ]
    definition = policy["policy"]["definition"]
    assert definition["delivery-limit"] == "20"
    if settings.backends["rabbitmq"].consumer_timeout_policy:
        assert definition["consumer-timeout"] == str(settings.max_task_duration_seconds * 1000)
    else:
        assert "consumer-timeout" not in definition
    assert ("consumer-timeout" in definition) == (env != "dev")


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_rabbitmq_producer_and_one_user_per_worker_with_passwords_from_ssm_parameters(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    synthesized = stack_json[env]
    workers = load_environment(PROJECT_CONFIG, env).workers
    users = {u["name"]: u for u in resources(synthesized, "rabbitmq_user")}
    assert sorted(users) == sorted(
        [
            f"ml-queues-{env}-producer",
            *(f"ml-queues-{env}-worker-{n}" for n in range(1, workers + 1)),
        ]
    )
    parameters = synthesized["resource"]["aws_ssm_parameter"]
    assert len(parameters) == len(users)
    for name, body in users.items():
        # The parameter's value as SSM holds it, read back by name: never the generator's.
        match = re.fullmatch(r"\$\{data\.aws_ssm_parameter\.(\w+)\.value\}", body["password"])
        assert match is not None, body["password"]
        parameter = parameters[match.group(1)]
        assert parameter["name"] == f"/ml-queues/{env}/rabbitmq/{name}"
        assert parameter["type"] == "SecureString"
        assert parameter["lifecycle"]["ignore_changes"] == ["value", "value_wo_version"]
        read_back = synthesized["data"]["aws_ssm_parameter"][match.group(1)]
        assert read_back["name"] == f"${{aws_ssm_parameter.{match.group(1)}.name}}"
        assert "tags" not in body
    assert "variable" not in synthesized
    assert synthesized["output"]["rabbitmq_password_parameters"]["value"] == [
        f"${{aws_ssm_parameter.{logical_id}.name}}"
        for logical_id in ["rabbitmq_producer_password"]
        + [f"rabbitmq_worker_{n}_password" for n in range(1, workers + 1)]
    ]
    grants = {p["user"]: p["permissions"] for p in resources(synthesized, "rabbitmq_permissions")}
    assert grants["${rabbitmq_user.rabbitmq_producer.name}"]["write"] == "^ml_tasks$"
    for n in range(1, workers + 1):
        assert grants[f"${{rabbitmq_user.rabbitmq_worker_{n}.name}}"] == {
            "configure": "^$",
            "write": "^$",
            "read": f"^worker_queue_{n}$",
        }


def test_only_prod_protects_its_rabbitmq_topology_from_destroy(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    for env in CLOUD_ENVIRONMENTS:
        synthesized = stack_json[env]
        protected = [
            body
            for resource_type in ("rabbitmq_vhost", "rabbitmq_exchange", "rabbitmq_queue")
            for body in resources(synthesized, resource_type)
        ]
        expected = {"prevent_destroy": True} if env == "prod" else None
        assert {str(body.get("lifecycle")) for body in protected} == {str(expected)}


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_outputs_for_every_seed_export(stack_json: dict[str, dict[str, Any]], env: str) -> None:
    outputs = {name: body["value"] for name, body in stack_json[env]["output"].items()}
    workers = load_environment(PROJECT_CONFIG, env).workers
    wiring = {"producer", *(f"worker_{n}" for n in range(1, workers + 1))}
    assert set(outputs) - wiring == {
        "ml_training_queue_url",
        "ml_training_queue_arn",
        "ml_training_dlq_url",
        "ml_training_dlq_arn",
        "sqs_worker_queue_urls",
        "ml_training_topic_name",
        "ml_training_subscription_name",
        "pubsub_worker_topic_names",
        "pubsub_worker_subscription_names",
        "rabbitmq_vhost",
        "exchange_name",
        "worker_queue_names",
        "rabbitmq_dead_letter_queue",
        "rabbitmq_unroutable_queue",
        "rabbitmq_producer_user",
        "rabbitmq_worker_users",
        "rabbitmq_password_parameters",
    }
    assert outputs["ml_training_queue_url"].endswith(".url}")
    assert outputs["ml_training_queue_arn"].endswith(".arn}")
    assert outputs["exchange_name"].startswith("${rabbitmq_exchange.")
    assert len(outputs["worker_queue_names"]) == workers


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_each_worker_gets_one_output_with_its_own_queue_on_every_backend(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    outputs = {name: body["value"] for name, body in stack_json[env]["output"].items()}
    workers = load_environment(PROJECT_CONFIG, env).workers
    for n in range(1, workers + 1):
        wiring = outputs[f"worker_{n}"]
        assert set(wiring) == {"sqs", "pubsub", "rabbitmq"}
        assert wiring["sqs"]["queue_url"] == outputs["sqs_worker_queue_urls"][n - 1]
        assert wiring["sqs"]["shared_queue_url"] == outputs["ml_training_queue_url"]
        assert f"worker_{n}_subscription" in wiring["pubsub"]["subscription"]
        assert wiring["pubsub"]["subscription"].endswith(".id}")
        assert set(wiring["pubsub"]) == {"subscription", "shared_subscription"}
        assert wiring["rabbitmq"]["queue"] == outputs["worker_queue_names"][n - 1]
        assert wiring["rabbitmq"]["user"] == outputs["rabbitmq_worker_users"][n - 1]
        assert (
            wiring["rabbitmq"]["password_parameter"] == outputs["rabbitmq_password_parameters"][n]
        )
    producer = outputs["producer"]
    assert producer["sqs"]["worker_queue_urls"] == outputs["sqs_worker_queue_urls"]
    assert producer["pubsub"]["topic"].endswith(".id}")
    worker_topics = producer["pubsub"]["worker_topics"]
    assert [f"worker_{n}_topic" in t for n, t in enumerate(worker_topics, start=1)] == [
        True
    ] * workers
    assert producer["rabbitmq"]["routing_keys"] == [
        f"worker_queue_{n}" for n in range(1, workers + 1)
    ]
    assert producer["rabbitmq"]["password_parameter"] == outputs["rabbitmq_password_parameters"][0]
    # Where a password is kept, never the password: no parameter's value, no generator.
    assert ".value}" not in json.dumps(outputs)
    assert "random_password" not in json.dumps(outputs)


def test_state_is_local_and_relative_in_dev_and_remote_elsewhere(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    assert stack_json["dev"]["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.dev.tfstate"}
    }
    for env in ("staging", "prod"):
        s3 = stack_json[env]["terraform"]["backend"]["s3"]
        assert s3["key"] == f"ml-queues/{env}.tfstate"
        assert s3["encrypt"] is True and s3["use_lockfile"] is True


# Provider arguments that carry a secret (aws, google, rabbitmq); the providers read each
# from the environment instead.
CREDENTIAL_ARGUMENTS = {
    "access_key",
    "secret_key",
    "token",
    "credentials",
    "access_token",
    "username",
    "password",
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_credentials_in_provider_blocks(stack_json: dict[str, dict[str, Any]], env: str) -> None:
    for blocks in stack_json[env]["provider"].values():
        for block in blocks:
            assert not CREDENTIAL_ARGUMENTS & set(block)
    assert stack_json[env]["provider"].get("rabbitmq", [{}]) == [{}]


SWITCHED_OFF = {"enabled": False}
# RabbitMQ's passwords in sensitive Terraform variables, none of the SSM keys set.
PASSWORDS_IN_VARIABLES = {
    "password_store": "variables",
    "password_region": None,
    "producer": None,
    "worker_template": None,
}


@pytest.mark.parametrize(
    ("backend", "prefixes"),
    [("sqs", ("aws",)), ("pubsub", ("google",)), ("rabbitmq", ("rabbitmq",))],
)
def test_a_switched_off_backend_leaves_no_trace(backend: str, prefixes: tuple[str, ...]) -> None:
    """With RabbitMQ's passwords in variables: in SSM they need the AWS provider of their own."""
    changes = {"rabbitmq": PASSWORDS_IN_VARIABLES, backend: SWITCHED_OFF}
    synthesized = synth_environment("dev", **changes)
    assert not any(p.startswith(prefixes) for p in synthesized["provider"])
    assert not any(r.startswith(prefixes) for r in synthesized["resource"])
    assert not any(p.startswith(prefixes) for p in synthesized["terraform"]["required_providers"])
    other_backends = {"sqs", "pubsub", "rabbitmq"} - {backend}
    assert len(synthesized["provider"]) == len(other_backends)


def test_ssm_passwords_without_sqs_bring_the_aws_provider_of_their_region() -> None:
    synthesized = synth_environment(
        "dev", sqs=SWITCHED_OFF, rabbitmq={"password_region": "eu-west-1"}
    )
    assert synthesized["provider"]["aws"] == [
        {"region": "eu-west-1", "default_tags": [{"tags": _tags("dev")}]}
    ]
    assert {kind for kind in synthesized["resource"] if kind.startswith("aws_")} == {
        "aws_ssm_parameter"
    }
    parameters = synthesized["resource"]["aws_ssm_parameter"].values()
    assert all("provider" not in body for body in parameters)


def test_ssm_passwords_in_another_region_than_sqs_get_a_provider_of_their_own() -> None:
    # The producer's role may read its password; no worker's role is named.
    rabbitmq = {"password_region": "eu-west-1", "worker_template": None}
    synthesized = synth_environment("prod", rabbitmq=rabbitmq)
    regions = {block.get("alias"): block["region"] for block in synthesized["provider"]["aws"]}
    assert regions == {None: "us-east-1", "eu_west_1": "eu-west-1"}
    passwords = [
        *synthesized["resource"]["aws_ssm_parameter"].values(),
        *synthesized["ephemeral"]["aws_secretsmanager_random_password"].values(),
        *synthesized["data"]["aws_ssm_parameter"].values(),
        *(
            p
            for p in resources(synthesized, "aws_iam_role_policy")
            if p["name"].endswith("-rabbitmq-password")
        ),
    ]
    assert len(passwords) == 3 * 9 + 1
    assert {body["provider"] for body in passwords} == {"aws.eu_west_1"}
    queues = resources(synthesized, "aws_sqs_queue")
    assert queues and all("provider" not in body for body in queues)


def test_rabbitmq_passwords_in_variables_are_as_they_were() -> None:
    """`password_store = "variables"`: one sensitive variable per user, nothing in AWS."""
    synthesized = synth_environment("prod", rabbitmq=PASSWORDS_IN_VARIABLES)
    users = {body["name"]: body["password"] for body in resources(synthesized, "rabbitmq_user")}
    assert users["ml-queues-prod-worker-8"] == "${var.rabbitmq_worker_8_password}"
    assert sorted(synthesized["variable"]) == sorted(
        ["rabbitmq_producer_password", *(f"rabbitmq_worker_{n}_password" for n in range(1, 9))]
    )
    assert all(v["sensitive"] for v in synthesized["variable"].values())
    assert "aws_ssm_parameter" not in synthesized["resource"]
    assert "aws_secretsmanager_random_password" not in synthesized["data"]
    assert "rabbitmq_password_parameters" not in synthesized["output"]
    assert "password_parameter" not in synthesized["output"]["worker_1"]["value"]["rabbitmq"]
    assert len(synthesized["provider"]["aws"]) == 1


def test_local_terraform_part_deploys_sqs_only_into_moto_with_short_timings(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    """The stack Terraform sees of `local`: the AWS provider alone, which is what a machine
    with only that provider in its mirror can install."""
    local = stack_json["local"]
    assert set(local["provider"]) == {"aws"}
    assert local["provider"]["aws"] == [
        {
            "region": "us-east-1",
            "default_tags": [{"tags": _tags("local")}],
            "endpoints": [
                {
                    "sqs": "http://127.0.0.1:4566",
                    "cloudwatch": "http://127.0.0.1:4566",
                    "iam": "http://127.0.0.1:4566",
                    "ssm": "http://127.0.0.1:4566",
                    "secretsmanager": "http://127.0.0.1:4566",
                    "sts": "http://127.0.0.1:4566",
                }
            ],
            "skip_credentials_validation": True,
            "skip_metadata_api_check": "true",
            "skip_requesting_account_id": True,
        }
    ]
    queues = {q["name"]: q for q in resources(local, "aws_sqs_queue")}
    queue = queues["mlTrainingQueue-local"]
    assert (queue["delay_seconds"], queue["visibility_timeout_seconds"]) == (2, 10)
    assert "mlTrainingQueue-local-dlq" in queues
    for redrive in resources(local, "aws_sqs_queue_redrive_policy"):
        assert '"maxReceiveCount" = 2' in redrive["redrive_policy"]
    assert set(local["output"]) == {
        "ml_training_queue_url",
        "ml_training_queue_arn",
        "ml_training_dlq_url",
        "ml_training_dlq_arn",
        "sqs_worker_queue_urls",
        "producer",
        "worker_1",
        "worker_2",
        "worker_3",
    }


def _emulated(synth_dir: Path, env: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        (synth_dir / "emulated" / "stacks" / env / "cdk.tf.json").read_text()
    )
    return parsed


def test_only_local_has_an_emulated_part_and_the_cli_s_manifest_does_not_list_it(
    synth_dir: Path,
) -> None:
    assert sorted(path.name for path in (synth_dir / "emulated" / "stacks").iterdir()) == ["local"]
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(ENVIRONMENTS)
    assert all(
        "emulated" not in stack["synthesizedStackPath"] for stack in manifest["stacks"].values()
    )


def test_local_emulated_part_holds_pubsub_and_rabbitmq_and_no_state(synth_dir: Path) -> None:
    """What the loaders read: Google's and RabbitMQ's resources, no AWS, and no state
    backend, so that nothing could write the Terraform part's state from here."""
    emulated = _emulated(synth_dir, "local")
    assert set(emulated["provider"]) == {"google", "rabbitmq"}
    assert "backend" not in emulated["terraform"]
    assert {kind.split("_")[0] for kind in emulated["resource"]} == {"google", "rabbitmq"}
    assert set(emulated["output"]["worker_2"]["value"]) == {"pubsub", "rabbitmq"}
    # Passwords: one sensitive variable per user, none in the JSON; local-up generates them.
    assert sorted(emulated["variable"]) == [
        "rabbitmq_producer_password",
        *(f"rabbitmq_worker_{n}_password" for n in (1, 2, 3)),
    ]
    assert all(body["sensitive"] for body in emulated["variable"].values())


def test_the_emulated_part_is_what_terraform_would_get_of_those_backends(
    synth_dir: Path,
) -> None:
    """The same resources under the same addresses: switching a backend between Terraform
    and its emulator moves nothing."""
    deployed = synth_environment(
        "local", pubsub={"deploy": "terraform"}, rabbitmq={"deploy": "terraform"}
    )
    emulated = _emulated(synth_dir, "local")

    def google_and_rabbitmq(stack: dict[str, Any]) -> dict[str, Any]:
        return {
            kind: {
                address: {key: value for key, value in body.items() if key != "//"}
                for address, body in bodies.items()
            }
            for kind, bodies in stack["resource"].items()
            if not kind.startswith("aws_")
        }

    assert google_and_rabbitmq(emulated) == google_and_rabbitmq(deployed)


def test_a_backend_whose_settings_need_another_provider_cannot_be_emulated() -> None:
    """RabbitMQ's passwords in SSM are AWS resources, which the RabbitMQ definitions cannot
    hold: they would be left out unseen."""
    settings = environment(
        "local", rabbitmq={"password_store": "ssm", "password_region": "us-east-1"}
    )
    with pytest.raises(ConfigError) as raised:
        MlQueuesStack(Testing.app(), settings, way="emulator")
    assert str(raised.value) == (
        "config/local.toml: rabbitmq.deploy = 'emulator' is not allowed with these [rabbitmq]"
        " settings: they also need the aws provider, whose resources a RabbitMQ node (from"
        " its definitions: `make rabbitmq-definitions`) does not hold; expected 'terraform',"
        " or settings that need the rabbitmq provider only"
    )


def test_gcs_state() -> None:
    gcs = {"backend": "gcs", "bucket": "tf-state", "prefix": "ml-queues/prod"}
    synthesized = synth_environment("prod", state={**gcs, "key": None, "region": None})
    assert synthesized["terraform"]["backend"] == {
        "gcs": {"bucket": "tf-state", "prefix": "ml-queues/prod"}
    }


def test_rabbitmq_endpoint_from_config_goes_to_the_provider_block() -> None:
    synthesized = synth_environment("dev", rabbitmq={"endpoint": "https://mq.example.com:15671"})
    assert synthesized["provider"]["rabbitmq"] == [{"endpoint": "https://mq.example.com:15671"}]


def test_a_worker_count_that_did_not_go_through_the_loader_is_refused() -> None:
    """The loader sets every backend's worker count from `workers`; changing only the
    environment's would output wiring for workers that have no queue."""
    settings = load_environment(PROJECT_CONFIG, "dev")
    with pytest.raises(ValueError, match=r"^stack 'dev' has 5 workers, a channel 3$"):
        MlQueuesStack(Testing.app(), dataclasses.replace(settings, workers=5))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_output_says_what_it_is(stack_json: dict[str, dict[str, Any]], env: str) -> None:
    """`terraform output` and the state show the description next to the value."""
    outputs = stack_json[env]["output"]
    undescribed = sorted(name for name, output in outputs.items() if not output.get("description"))
    assert outputs and undescribed == []


@pytest.mark.parametrize("env", CLOUD_ENVIRONMENTS)
def test_no_rabbitmq_task_is_dropped_by_the_broker(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    """Unroutable tasks go to a kept queue; a full queue refuses, never drops its oldest; the
    kept queues keep a task however often it is returned; an operator's policy below the
    project's priority replaces none of it."""
    policies = {p["name"]: p["policy"] for p in resources(stack_json[env], "rabbitmq_policy")}
    assert policies["ml_tasks-exchange"] == {
        "apply_to": "exchanges",
        "definition": {"alternate-exchange": "ml_tasks.unroutable"},
        "pattern": "^ml_tasks$",
        "priority": 1000,
    }
    workers = policies["ml_tasks-workers"]["definition"]
    assert workers["overflow"] == "reject-publish"
    assert workers["dead-letter-exchange"] == "ml_tasks.dead_letter"
    assert policies["ml_tasks-workers"]["priority"] == 1000
    # dev names 3.10, which refuses -1; staging and prod run 4.0 or newer.
    unlimited = "2147483647" if env == "dev" else "-1"
    assert policies["ml_tasks-kept"] == {
        "apply_to": "queues",
        "definition": {"delivery-limit": unlimited},
        "pattern": r"^(ml_tasks\.dead_letter|ml_tasks\.unroutable)$",
        "priority": 1000,
    }


def test_every_replace_trigger_names_a_resource_of_the_stack(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    """Bare `type.id` references (Terraform refuses `${...}` there) to resources that exist."""
    assert any('"replace_triggered_by"' in json.dumps(stack) for stack in stack_json.values())
    for synthesized in stack_json.values():
        addresses = {
            f"{kind}.{name}" for kind, items in synthesized["resource"].items() for name in items
        }
        triggers = [
            trigger
            for items in synthesized["resource"].values()
            for resource in items.values()
            for trigger in resource.get("lifecycle", {}).get("replace_triggered_by", [])
        ]
        assert {trigger.removesuffix(".id") for trigger in triggers} <= addresses
        assert all(trigger.endswith(".id") for trigger in triggers)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_stack_states_the_terraform_it_needs(
    stack_json: dict[str, dict[str, Any]], env: str
) -> None:
    """S3 state locking (`use_lockfile`) needs 1.10, write-only arguments 1.11; providers
    are pinned exactly."""
    terraform = stack_json[env]["terraform"]
    assert terraform["required_version"] == ">= 1.11"
    versions = {name: p["version"] for name, p in terraform["required_providers"].items()}
    assert all(version[0].isdigit() for version in versions.values()), versions
