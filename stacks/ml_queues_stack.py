"""One environment's message-queue infrastructure, as one Terraform stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cdktf import (
    GcsBackend,
    IAspect,
    LocalBackend,
    S3Backend,
    TerraformOutput,
    TerraformStack,
)
from constructs import Construct

from constructs_lib.aspects import CommonLabels, PreventDestroy, visit_all
from constructs_lib.channel import TaskChannel
from constructs_lib.providers import (
    AwsProvider,
    AwsProviderDefaultTags,
    AwsProviderEndpoints,
    GoogleProvider,
)
from constructs_lib.pubsub_task_topic import PubSubTaskTopic, PubSubTaskTopicProps
from constructs_lib.rabbitmq_bindings import RabbitmqProvider, User, Vhost
from constructs_lib.rabbitmq_passwords import RabbitMqPasswords, RabbitMqPasswordsProps
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange, RabbitMqTaskExchangeProps
from constructs_lib.sqs_task_channel import SqsTaskChannel, SqsTaskChannelProps
from constructs_lib.wiring import output
from stacks.settings import EnvironmentSettings, GcsState, LocalState, S3State, StateSettings

# Terraform runs in cdktf.out/stacks/<env>/; a local state path is written relative to that
# folder so that it points into the project root, survives `rm -rf cdktf.out`, and holds no
# absolute path.
_STACK_DIR_TO_PROJECT_ROOT = "../../../"
# S3 state locks itself (`use_lockfile`) from Terraform 1.10 on, and write-only arguments
# (the RabbitMQ passwords' `value_wo`) need 1.11: one floor for every stack.
REQUIRED_TERRAFORM = ">= 1.11"

# Who uses a channel: the producer's principal, and worker n's (None: grant nothing).
Principals = tuple[str | None, Callable[[int], str | None]]


def common_tags(environment: str) -> dict[str, str]:
    """On everything that takes tags or labels, so costs and owners can be traced.

    Lowercase keys and values with underscores, which both AWS tags and Google labels
    accept (jsii rewrites a hyphen in a Google label key to an underscore anyway).
    """
    return {"project": "ml-queues", "environment": environment, "managed_by": "cdktf"}


def rabbitmq_user_id(worker: int | None) -> str:
    """The logical id of a broker user, the producer's (None) or worker `worker`'s; its
    password's resources are named after it, and `make rotate-password` finds them so."""
    return "rabbitmq_producer" if worker is None else f"rabbitmq_worker_{worker}"


def _from_template(template: str | None) -> Callable[[int], str | None]:
    """'ml-worker-{worker}' -> worker n's principal; None: workers get no grant."""
    return lambda n: template.replace("{worker}", str(n)) if template is not None else None


class MlQueuesStack(TerraformStack):
    """The stack for one environment; its id is the environment name (`make deploy ENV=dev`).

    A backend switched off in the config contributes no provider and no resource, so the
    environment needs no credentials for it.
    """

    def __init__(self, scope: Construct, settings: EnvironmentSettings) -> None:
        super().__init__(scope, settings.name)
        self._settings = settings
        # The default AWS provider and its region, once a backend has made it.
        self._aws_region: str | None = None
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        self._use_state(settings.state)
        channels: list[tuple[TaskChannel, Principals]] = []
        if settings.sqs is not None:
            channels.append(self._sqs(settings.sqs))
        if settings.pubsub is not None:
            channels.append(self._pubsub(settings.pubsub))
        if settings.rabbitmq is not None:
            channels.append(self._rabbitmq(settings.rabbitmq))
        workers = range(1, settings.workers + 1)
        for channel, (producer, worker) in channels:
            if len(channel.worker_addresses) != settings.workers:
                # Props made by hand rather than by stacks.settings.parse_environment.
                raise ValueError(
                    f"environment {settings.name!r} has {settings.workers} workers, a channel"
                    f" {len(channel.worker_addresses)}"
                )
            if producer is not None:
                channel.grant_publish(producer)
            for n in workers:
                principal = worker(n)
                if principal is not None:
                    channel.grant_consume(principal, n)
            for item in channel.outputs():
                TerraformOutput(self, item.id, value=item.value, description=item.description)
        # One structured output each, so nobody copies URLs or names by hand
        # (`make worker-env ENV=dev WORKER=2` turns one into a .env file).
        TerraformOutput(
            self,
            "producer",
            value=output([channel.producer_wiring() for channel, _ in channels]),
            description="what the producer needs, per backend (make worker-env WORKER=producer)",
        )
        for n in workers:
            TerraformOutput(
                self,
                f"worker_{n}",
                value=output([channel.worker_wiring(n) for channel, _ in channels]),
                description=f"what worker {n} needs, per backend (make worker-env WORKER={n})",
            )
        # The stack is complete here, so the rules are applied now rather than as cdktf
        # aspects (see constructs_lib/aspects.py for why).
        rules: list[IAspect] = [CommonLabels(common_tags(settings.name))]
        if settings.prevent_destroy:
            rules.insert(0, PreventDestroy())
        visit_all(self, *rules)

    def _sqs(self, sqs: SqsTaskChannelProps) -> tuple[TaskChannel, Principals]:
        self._aws_provider(sqs.region, sqs.endpoint)
        name = f"mlTrainingQueue-{self._settings.name_suffix}"
        channel = SqsTaskChannel(self, replace(sqs, queue=replace(sqs.queue, name=name)))
        return channel, (sqs.producer, _from_template(sqs.worker_template))

    def _pubsub(self, pubsub: PubSubTaskTopicProps) -> tuple[TaskChannel, Principals]:
        suffix = self._settings.name_suffix
        GoogleProvider(
            self,
            "google",
            project=pubsub.project,
            region=pubsub.region,
            default_labels=common_tags(self._settings.name),
        )
        topic = PubSubTaskTopic(
            self,
            "pubsub_task_topic",
            replace(
                pubsub,
                topic_name=f"mlTrainingTopic-{suffix}",
                subscription_name=f"mlTrainingSubscription-{suffix}",
            ),
        )
        return topic, (pubsub.producer, _from_template(pubsub.worker_template))

    def _rabbitmq(self, rabbitmq: RabbitMqTaskExchangeProps) -> tuple[TaskChannel, Principals]:
        # Admin credentials come from RABBITMQ_USERNAME / RABBITMQ_PASSWORD, read by the
        # provider; the producer's and workers' passwords from `passwords`.
        RabbitmqProvider(self, "rabbitmq", endpoint=rabbitmq.endpoint)
        vhost = Vhost(
            self,
            "vhost",
            name=rabbitmq.vhost,
            description=f"ml-queues training tasks, environment {self._settings.name}",
            default_queue_type=rabbitmq.queue_type,
        )
        exchange = RabbitMqTaskExchange(
            self, "rabbitmq_task_exchange", replace(rabbitmq, vhost=vhost.name)
        )
        passwords = RabbitMqPasswords(
            self,
            "rabbitmq_passwords",
            rabbitmq.passwords,
            provider=self._passwords_provider(rabbitmq.passwords),
        )
        suffix = self._settings.name_suffix
        producer = self._rabbitmq_user(
            passwords, rabbitmq_user_id(None), f"ml-queues-{suffix}-producer"
        )
        users = {
            n: self._rabbitmq_user(
                passwords, rabbitmq_user_id(n), f"ml-queues-{suffix}-worker-{n}", worker=n
            ).name
            for n in range(1, self._settings.workers + 1)
        }
        exchange.keep_passwords_in(passwords.parameter_name)
        if passwords.parameter_names:
            TerraformOutput(
                self,
                "rabbitmq_password_parameters",
                value=passwords.parameter_names,
                description="SSM parameters holding the RabbitMQ passwords (SecureString), the"
                " producer's first, then each worker's",
            )
        return exchange, (producer.name, users.get)

    def _rabbitmq_user(
        self, passwords: RabbitMqPasswords, id: str, name: str, *, worker: int | None = None
    ) -> User:
        """A broker user whose password is a reference: it never enters the JSON."""
        return User(self, id, name=name, password=passwords.password(id, name, worker=worker))

    def _passwords_provider(self, passwords: RabbitMqPasswordsProps) -> AwsProvider | None:
        """The AWS provider of the password parameters' region, where the stack's default
        one (SQS's) is elsewhere; None: the default one serves, or none is needed."""
        region = passwords.password_region
        if passwords.password_store != "ssm" or region is None:
            return None
        if self._aws_region is None:
            self._aws_provider(region, None)
            return None
        if self._aws_region == region:
            return None
        # SQS in an emulator: the stack's AWS is that emulator, passwords included.
        endpoint = self._settings.sqs.endpoint if self._settings.sqs is not None else None
        return self._aws_provider(region, endpoint, alias="rabbitmq_passwords")

    def _aws_provider(
        self, region: str, endpoint: str | None, *, alias: str | None = None
    ) -> AwsProvider:
        """The stack's default AWS provider, or with `alias` another one, which resources
        must then name."""
        if alias is None:
            self._aws_region = region
        tags = [AwsProviderDefaultTags(tags=common_tags(self._settings.name))]
        id = "aws" if alias is None else f"aws_{alias}"
        if endpoint is None:
            return AwsProvider(self, id, alias=alias, region=region, default_tags=tags)
        # An emulator: no STS, IAM or metadata service to ask. Its test credentials come
        # from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY like real ones, never from here.
        return AwsProvider(
            self,
            id,
            alias=alias,
            region=region,
            default_tags=tags,
            endpoints=[
                AwsProviderEndpoints(
                    sqs=endpoint,
                    cloudwatch=endpoint,
                    iam=endpoint,
                    ssm=endpoint,
                    secretsmanager=endpoint,
                    sts=endpoint,
                )
            ],
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
