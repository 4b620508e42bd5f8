"""One environment's message-queue infrastructure, as one Terraform stack."""

from __future__ import annotations

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
from constructs_lib.backend_spec import EMULATOR, TERRAFORM, Backend, Principals
from constructs_lib.channel import TaskChannel
from constructs_lib.registry import backends
from constructs_lib.stack_providers import StackProviders
from constructs_lib.wiring import output
from stacks.settings import (
    ConfigError,
    EnvironmentSettings,
    GcsState,
    LocalState,
    S3State,
    StateSettings,
    common_tags,
)

# Terraform runs in cdktf.out/stacks/<env>/; a local state path is written relative to that
# folder so that it points into the project root, survives `rm -rf cdktf.out`, and holds no
# absolute path.
_STACK_DIR_TO_PROJECT_ROOT = "../../../"
# S3 state locks itself (`use_lockfile`) from Terraform 1.10 on, and write-only arguments
# (the RabbitMQ passwords' `value_wo`) need 1.11: one floor for every stack.
REQUIRED_TERRAFORM = ">= 1.11"


class MlQueuesStack(TerraformStack):
    """The stack for one environment; its id is the environment name (`make deploy ENV=dev`).

    It builds one channel per enabled backend, in the registry's order, and runs the same
    loop for each: grant the producer, grant each worker, output the wiring. A backend
    switched off in the config contributes no provider and no resource, so the environment
    needs no credentials for it.

    `way` is the part of the environment this stack holds: TERRAFORM, the backends deployed
    through Terraform (the app's stack, `cdktf.out/stacks/<env>`), or EMULATOR, those loaded
    into local emulators (`deploy = "emulator"`, `cdktf.out/emulated/stacks/<env>`), which
    the loaders read and Terraform never plans.
    """

    def __init__(
        self, scope: Construct, settings: EnvironmentSettings, *, way: str = TERRAFORM
    ) -> None:
        super().__init__(scope, settings.name)
        settings = settings.part(way)
        self._settings = settings
        self._providers = StackProviders(self, common_tags(settings.name))
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        if way == TERRAFORM:
            self._use_state(settings.state)
        else:
            # No state: nothing applies this part. cdktf's default would be a local backend
            # at `terraform.<env>.tfstate` in the working directory, the Terraform part's own
            # state file for `local`.
            self.add_override("terraform.backend", None)
        channels = self._channels(settings, way)
        workers = range(1, settings.workers + 1)
        for channel, principals in channels:
            if len(channel.worker_addresses) != settings.workers:
                # Props made by hand rather than by stacks.settings.parse_environment.
                raise ValueError(
                    f"stack {settings.name!r} has {settings.workers} workers, a channel"
                    f" {len(channel.worker_addresses)}"
                )
            if principals.producer is not None:
                channel.grant_publish(principals.producer)
            for n in workers:
                principal = principals.worker(n)
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

    def _channels(
        self, settings: EnvironmentSettings, way: str
    ) -> list[tuple[TaskChannel, Principals]]:
        """Each enabled backend's channel, built in the registry's order."""
        channels = []
        for backend in backends():
            if settings.backends.get(backend.key) is None:
                continue
            before = self._providers.made
            channels.append(backend.build()(self, settings.backends[backend.key]))
            if way == EMULATOR:
                _only_its_provider(settings, backend, self._providers.made - before)
        return channels

    # What a build step reads (constructs_lib.backend_spec.AppStack).
    @property
    def construct(self) -> Construct:
        return self

    @property
    def environment(self) -> str:
        return self._settings.name

    @property
    def name_suffix(self) -> str:
        return self._settings.name_suffix

    @property
    def workers(self) -> int:
        return self._settings.workers

    @property
    def providers(self) -> StackProviders:
        return self._providers

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


def _only_its_provider(settings: EnvironmentSettings, backend: Backend, made: set[str]) -> None:
    """An emulator loader holds its backend's own resources only (the Pub/Sub loader Google's,
    the RabbitMQ definitions RabbitMQ's): resources of another provider in that part
    (RabbitMQ's passwords in SSM, on `aws`) would be left out unseen."""
    others = sorted(made - {backend.provider})
    if others:
        raise ConfigError(
            f"{settings.source}: {backend.key}.deploy = '{EMULATOR}' is not allowed with these"
            f" [{backend.key}] settings: they also need the {', '.join(others)} provider, whose"
            f" resources {backend.emulator} does not hold; expected '{TERRAFORM}', or settings"
            f" that need the {backend.provider} provider only"
        )
