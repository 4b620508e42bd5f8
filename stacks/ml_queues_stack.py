"""One environment's message-queue infrastructure, as one Terraform stack."""

from __future__ import annotations

from typing import Any

from cdktf import (
    GcsBackend,
    LocalBackend,
    S3Backend,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
)
from constructs import Construct

from constructs_lib.providers import (
    AwsProvider,
    AwsProviderDefaultTags,
    AwsProviderEndpoints,
    GoogleProvider,
)
from constructs_lib.pubsub_task_topic import PubSubTaskTopic
from constructs_lib.rabbitmq_bindings import RabbitmqProvider, User, Vhost
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange
from constructs_lib.sqs_task_queue import SqsTaskQueue
from stacks.settings import (
    EnvironmentSettings,
    GcsState,
    LocalState,
    PubSubSettings,
    RabbitMqSettings,
    S3State,
    SqsSettings,
    StateSettings,
)

# Terraform runs in cdktf.out/stacks/<env>/; a local state path is written relative to that
# folder so that it points into the project root, survives `rm -rf cdktf.out`, and holds no
# absolute path.
_STACK_DIR_TO_PROJECT_ROOT = "../../../"


def common_tags(environment: str) -> dict[str, str]:
    """On everything that takes tags or labels, so costs and owners can be traced.

    Lowercase keys and values with underscores, which both AWS tags and Google labels
    accept (jsii rewrites a hyphen in a Google label key to an underscore anyway).
    """
    return {"project": "ml-queues", "environment": environment, "managed_by": "cdktf"}


class MlQueuesStack(TerraformStack):
    """The stack for one environment; its id is the environment name (`cdktf deploy dev`).

    A backend switched off in the config contributes no provider and no resource, so the
    environment needs no credentials for it.
    """

    def __init__(self, scope: Construct, settings: EnvironmentSettings) -> None:
        super().__init__(scope, settings.name)
        self._use_state(settings.state)
        # What producers and each worker need, per backend, gathered for the wiring outputs.
        self._producer: dict[str, dict[str, Any]] = {}
        self._workers: list[dict[str, dict[str, Any]]] = [{} for _ in range(settings.workers)]
        if settings.sqs is not None:
            self._sqs(settings, settings.sqs)
        if settings.pubsub is not None:
            self._pubsub(settings, settings.pubsub)
        if settings.rabbitmq is not None:
            self._rabbitmq(settings, settings.rabbitmq)
        # One structured output each, so nobody copies URLs or names by hand
        # (`make worker-env ENV=dev WORKER=2` turns one into a .env file).
        TerraformOutput(self, "producer", value=self._producer)
        for number, wiring in enumerate(self._workers, start=1):
            TerraformOutput(self, f"worker_{number}", value=wiring)

    def _sqs(self, settings: EnvironmentSettings, sqs: SqsSettings) -> None:
        self._aws_provider(settings, sqs.region, sqs.endpoint)
        base = f"mlTrainingQueue-{settings.name_suffix}"

        def task_queue(id: str, name: str) -> SqsTaskQueue:
            return SqsTaskQueue(
                self,
                id,
                name=name,
                delay_seconds=sqs.delay_seconds,
                max_message_size=sqs.max_message_size,
                message_retention_seconds=sqs.message_retention_seconds,
                receive_wait_time_seconds=sqs.receive_wait_time_seconds,
                visibility_timeout_seconds=settings.max_task_duration_seconds,
                dead_letter_queue=sqs.dead_letter_queue,
                max_receive_count=sqs.max_receive_count,
                dead_letter_retention_seconds=sqs.dead_letter_retention_seconds,
                dead_letter_sources_only=sqs.dead_letter_sources_only,
                fifo=sqs.fifo,
                content_based_deduplication=sqs.content_based_deduplication,
                kms_master_key_id=sqs.kms_key_id,
                kms_data_key_reuse_period_seconds=sqs.kms_data_key_reuse_period_seconds,
                enforce_ssl=sqs.enforce_ssl,
                alarms=sqs.alarms,
                oldest_message_alarm_seconds=sqs.oldest_message_alarm_seconds,
                alarm_topic_arn=sqs.alarm_topic_arn,
                prevent_destroy=settings.prevent_destroy,
            )

        # The seed's queue is the shared one; its logical id stays, so state carries over.
        shared = task_queue("sqs_task_queue", base) if sqs.shared_queue else None
        workers = [
            task_queue(f"sqs_worker_{n}_queue", f"{base}-worker-{n}")
            for n in range(1, settings.workers + 1)
        ]
        for n, queue in enumerate(workers, start=1):
            if sqs.producer_role is not None:
                queue.grant_send_messages(f"sqs_worker_{n}_producer_grant", role=sqs.producer_role)
            if sqs.worker_role_template is not None:
                role = sqs.worker_role_template.replace("{worker}", str(n))
                queue.grant_consume_messages(f"sqs_worker_{n}_worker_grant", role=role)
                if shared is not None:
                    shared.grant_consume_messages(f"sqs_shared_worker_{n}_grant", role=role)
        if shared is not None:
            if sqs.producer_role is not None:
                shared.grant_send_messages("sqs_shared_producer_grant", role=sqs.producer_role)
            TerraformOutput(self, "ml_training_queue_url", value=shared.queue_url)
            TerraformOutput(self, "ml_training_queue_arn", value=shared.queue_arn)
            if shared.dead_letter_queue_url is not None:
                TerraformOutput(self, "ml_training_dlq_url", value=shared.dead_letter_queue_url)
                TerraformOutput(self, "ml_training_dlq_arn", value=shared.dead_letter_queue_arn)
        TerraformOutput(self, "sqs_worker_queue_urls", value=[queue.queue_url for queue in workers])
        shared_url = shared.queue_url if shared is not None else None
        self._producer["sqs"] = {
            "region": sqs.region,
            "worker_queue_urls": [queue.queue_url for queue in workers],
            "shared_queue_url": shared_url,
        }
        for wiring, queue in zip(self._workers, workers, strict=True):
            wiring["sqs"] = {
                "region": sqs.region,
                "queue_url": queue.queue_url,
                "shared_queue_url": shared_url,
            }

    def _pubsub(self, settings: EnvironmentSettings, pubsub: PubSubSettings) -> None:
        GoogleProvider(
            self,
            "google",
            project=pubsub.project,
            region=pubsub.region,
            default_labels=common_tags(settings.name),
        )
        topic = PubSubTaskTopic(
            self,
            "pubsub_task_topic",
            topic_name=f"mlTrainingTopic-{settings.name_suffix}",
            subscription_name=f"mlTrainingSubscription-{settings.name_suffix}",
            workers=settings.workers,
            shared_subscription=pubsub.shared_subscription,
            ack_deadline_seconds=settings.max_task_duration_seconds,
            message_retention_seconds=pubsub.message_retention_seconds,
            dead_letter=pubsub.dead_letter,
            max_delivery_attempts=pubsub.max_delivery_attempts,
            minimum_backoff_seconds=pubsub.minimum_backoff_seconds,
            maximum_backoff_seconds=pubsub.maximum_backoff_seconds,
            exactly_once_delivery=pubsub.exactly_once_delivery,
            message_ordering=pubsub.message_ordering,
            kms_key_name=pubsub.kms_key_name,
            alerts=pubsub.alerts,
            oldest_message_alert_seconds=pubsub.oldest_message_alert_seconds,
            alert_notification_channel=pubsub.alert_notification_channel,
            labels=common_tags(settings.name),
            project=pubsub.project,
            prevent_destroy=settings.prevent_destroy,
        )
        if pubsub.producer_member is not None:
            topic.grant_publish("pubsub_producer_grant", member=pubsub.producer_member)
        if pubsub.worker_member_template is not None:
            for n in range(1, settings.workers + 1):
                member = pubsub.worker_member_template.replace("{worker}", str(n))
                topic.grant_consume(f"pubsub_worker_{n}_grant", member=member, worker=n)
                if pubsub.shared_subscription:
                    topic.grant_consume(
                        f"pubsub_shared_worker_{n}_grant", member=member, worker=None
                    )
        TerraformOutput(self, "ml_training_topic_name", value=topic.topic_name)
        if topic.subscription_name is not None:
            TerraformOutput(self, "ml_training_subscription_name", value=topic.subscription_name)
        TerraformOutput(
            self, "pubsub_worker_subscription_names", value=topic.worker_subscription_names
        )
        self._producer["pubsub"] = {"topic": topic.topic_path, "worker_attribute": "worker"}
        for number, (wiring, path) in enumerate(
            zip(self._workers, topic.worker_subscription_paths, strict=True), start=1
        ):
            attribute, value = topic.worker_attribute(number)
            wiring["pubsub"] = {
                "subscription": path,
                "shared_subscription": topic.subscription_path,
                "attribute": attribute,
                "attribute_value": value,
            }

    def _rabbitmq(self, settings: EnvironmentSettings, rabbitmq: RabbitMqSettings) -> None:
        # Admin credentials come from RABBITMQ_USERNAME / RABBITMQ_PASSWORD, read by the
        # provider; the producer and worker passwords from sensitive variables (TF_VAR_...).
        RabbitmqProvider(self, "rabbitmq", endpoint=rabbitmq.endpoint)
        lifecycle = (
            TerraformResourceLifecycle(prevent_destroy=True) if settings.prevent_destroy else None
        )
        vhost = Vhost(
            self,
            "vhost",
            name=rabbitmq.vhost,
            description=f"ml-queues training tasks, environment {settings.name}",
            default_queue_type=rabbitmq.queue_type,
            lifecycle=lifecycle,
        )
        exchange = RabbitMqTaskExchange(
            self,
            "rabbitmq_task_exchange",
            vhost=vhost.name,
            workers=settings.workers,
            queue_type="quorum" if rabbitmq.queue_type == "quorum" else "classic",
            dead_letter=rabbitmq.dead_letter,
            delivery_limit=rabbitmq.delivery_limit,
            message_ttl_seconds=rabbitmq.message_ttl_seconds,
            max_length=rabbitmq.max_length,
            consumer_timeout_seconds=(
                settings.max_task_duration_seconds if rabbitmq.consumer_timeout_policy else None
            ),
            prevent_destroy=settings.prevent_destroy,
        )
        producer = self._rabbitmq_user(
            "rabbitmq_producer", f"ml-queues-{settings.name_suffix}-producer", "the producer"
        )
        exchange.grant_publish("rabbitmq_producer_permissions", user=producer.name)
        workers = []
        for number in range(1, settings.workers + 1):
            worker = self._rabbitmq_user(
                f"rabbitmq_worker_{number}",
                f"ml-queues-{settings.name_suffix}-worker-{number}",
                f"worker {number}",
            )
            exchange.grant_consume(
                f"rabbitmq_worker_{number}_permissions", user=worker.name, worker=number
            )
            workers.append(worker.name)
        TerraformOutput(self, "rabbitmq_vhost", value=vhost.name)
        TerraformOutput(self, "exchange_name", value=exchange.exchange_name)
        TerraformOutput(self, "worker_queue_names", value=exchange.worker_queue_names)
        if exchange.dead_letter_queue_name is not None:
            TerraformOutput(
                self, "rabbitmq_dead_letter_queue", value=exchange.dead_letter_queue_name
            )
        TerraformOutput(self, "rabbitmq_producer_user", value=producer.name)
        TerraformOutput(self, "rabbitmq_worker_users", value=workers)
        self._producer["rabbitmq"] = {
            "vhost": vhost.name,
            "exchange": exchange.exchange_name,
            "routing_keys": exchange.routing_keys,
            "user": producer.name,
        }
        for wiring, queue, user in zip(
            self._workers, exchange.worker_queue_names, workers, strict=True
        ):
            wiring["rabbitmq"] = {
                "vhost": vhost.name,
                "exchange": exchange.exchange_name,
                "queue": queue,
                "user": user,
            }

    def _rabbitmq_user(self, id: str, name: str, who: str) -> User:
        """A broker user whose password is a sensitive variable: it never enters the JSON."""
        password = TerraformVariable(
            self,
            f"{id}_password",
            type="string",
            sensitive=True,
            nullable=False,
            description=f"RabbitMQ password of {who}; set TF_VAR_{id}_password",
        )
        return User(self, id, name=name, password=password.string_value)

    def _aws_provider(
        self, settings: EnvironmentSettings, region: str, endpoint: str | None
    ) -> None:
        tags = [AwsProviderDefaultTags(tags=common_tags(settings.name))]
        if endpoint is None:
            AwsProvider(self, "aws", region=region, default_tags=tags)
            return
        # An emulator: no STS, IAM or metadata service to ask. Its test credentials come
        # from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY like real ones, never from here.
        AwsProvider(
            self,
            "aws",
            region=region,
            default_tags=tags,
            endpoints=[AwsProviderEndpoints(sqs=endpoint, cloudwatch=endpoint, iam=endpoint)],
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check="true",
        )

    def _use_state(self, state: StateSettings) -> None:
        # Always explicit: without a backend cdktf writes the absolute working directory.
        if isinstance(state, LocalState):
            LocalBackend(self, path=_STACK_DIR_TO_PROJECT_ROOT + state.path)
        elif isinstance(state, S3State):
            S3Backend(self, bucket=state.bucket, key=state.key, region=state.region, encrypt=True)
            # Terraform >= 1.10 locks S3 state itself; two applies at once would corrupt it.
            self.add_override("terraform.backend.s3.use_lockfile", True)
        elif isinstance(state, GcsState):
            GcsBackend(self, bucket=state.bucket, prefix=state.prefix)
