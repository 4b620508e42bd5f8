"""One environment's message-queue infrastructure, as one Terraform stack."""

from __future__ import annotations

from cdktf import GcsBackend, LocalBackend, S3Backend, TerraformOutput, TerraformStack
from constructs import Construct

from constructs_lib.providers import AwsProvider, AwsProviderEndpoints, GoogleProvider
from constructs_lib.pubsub_task_topic import PubSubTaskTopic
from constructs_lib.rabbitmq_bindings import RabbitmqProvider, Vhost
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange
from constructs_lib.sqs_task_queue import SqsTaskQueue
from stacks.settings import EnvironmentSettings, GcsState, LocalState, S3State, StateSettings

# Terraform runs in cdktf.out/stacks/<env>/; a local state path is written relative to that
# folder so that it points into the project root, survives `rm -rf cdktf.out`, and holds no
# absolute path.
_STACK_DIR_TO_PROJECT_ROOT = "../../../"


class MlQueuesStack(TerraformStack):
    """The stack for one environment; its id is the environment name (`cdktf deploy dev`).

    A backend switched off in the config contributes no provider and no resource, so the
    environment needs no credentials for it.
    """

    def __init__(self, scope: Construct, settings: EnvironmentSettings) -> None:
        super().__init__(scope, settings.name)
        self._use_state(settings.state)
        suffix = settings.name_suffix

        sqs = settings.sqs
        if sqs is not None:
            self._aws_provider(sqs.region, sqs.endpoint)
            queue = SqsTaskQueue(
                self,
                "sqs_task_queue",
                name=f"mlTrainingQueue-{suffix}",
                delay_seconds=sqs.delay_seconds,
                max_message_size=sqs.max_message_size,
                message_retention_seconds=sqs.message_retention_seconds,
                receive_wait_time_seconds=sqs.receive_wait_time_seconds,
                visibility_timeout_seconds=sqs.visibility_timeout_seconds,
                dead_letter_queue=sqs.dead_letter_queue,
                max_receive_count=sqs.max_receive_count,
                dead_letter_retention_seconds=sqs.dead_letter_retention_seconds,
                dead_letter_sources_only=sqs.dead_letter_sources_only,
            )
            TerraformOutput(self, "ml_training_queue_url", value=queue.queue_url)
            TerraformOutput(self, "ml_training_queue_arn", value=queue.queue_arn)
            if queue.dead_letter_queue_url is not None:
                TerraformOutput(self, "ml_training_dlq_url", value=queue.dead_letter_queue_url)
                TerraformOutput(self, "ml_training_dlq_arn", value=queue.dead_letter_queue_arn)

        if settings.pubsub is not None:
            GoogleProvider(
                self, "google", project=settings.pubsub.project, region=settings.pubsub.region
            )
            topic = PubSubTaskTopic(
                self,
                "pubsub_task_topic",
                topic_name=f"mlTrainingTopic-{suffix}",
                subscription_name=f"mlTrainingSubscription-{suffix}",
            )
            TerraformOutput(self, "ml_training_topic_name", value=topic.topic_name)
            TerraformOutput(self, "ml_training_subscription_name", value=topic.subscription_name)

        if settings.rabbitmq is not None:
            # Credentials come from RABBITMQ_USERNAME / RABBITMQ_PASSWORD, read by the provider.
            RabbitmqProvider(self, "rabbitmq", endpoint=settings.rabbitmq.endpoint)
            vhost = Vhost(
                self,
                "vhost",
                name=settings.rabbitmq.vhost,
                description=f"ml-queues training tasks, environment {settings.name}",
            )
            exchange = RabbitMqTaskExchange(
                self, "rabbitmq_task_exchange", vhost=vhost.name, workers=settings.workers
            )
            TerraformOutput(self, "rabbitmq_vhost", value=vhost.name)
            TerraformOutput(self, "exchange_name", value=exchange.exchange_name)
            TerraformOutput(self, "worker_queue_names", value=exchange.worker_queue_names)

    def _aws_provider(self, region: str, endpoint: str | None) -> None:
        if endpoint is None:
            AwsProvider(self, "aws", region=region)
            return
        # An emulator: no STS, IAM or metadata service to ask. Its test credentials come
        # from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY like real ones, never from here.
        AwsProvider(
            self,
            "aws",
            region=region,
            endpoints=[AwsProviderEndpoints(sqs=endpoint)],
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
