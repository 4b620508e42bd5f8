"""The providers of one stack, each made once, whichever backend asks for it first.

Why: a provider is a construct with a fixed id in the stack. When each backend made its own,
two backends on one cloud (SQS, and the RabbitMQ passwords kept in SSM) had to know about
each other, and building them in another order made a second `aws` construct.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from cdktf import TerraformProvider
from constructs import Construct

from constructs_lib.providers import (
    AwsProvider,
    AwsProviderDefaultTags,
    AwsProviderEndpoints,
    GoogleProvider,
)
from constructs_lib.rabbitmq.bindings import RabbitmqProvider

P = TypeVar("P", bound=TerraformProvider)


class StackProviders:
    """`tags` go on everything the AWS and Google providers make (their default tags and
    labels)."""

    def __init__(self, stack: Construct, tags: Mapping[str, str]) -> None:
        self._stack = stack
        self._tags = dict(tags)
        self._aws: dict[str, AwsProvider] = {}
        self._aws_default: tuple[str, str | None] | None = None
        self._made: dict[str, TerraformProvider] = {}

    def shared(self, id: str, make: Callable[[Construct, str], P]) -> P:
        """The provider `id` of the stack, made by `make(stack, id)` the first time a backend
        asks for it; a backend with a provider of its own needs nothing more here."""
        if id not in self._made:
            self._made[id] = make(self._stack, id)
        made: P = self._made[id]  # type: ignore[assignment]
        return made

    def aws(self, region: str, endpoint: str | None = None) -> AwsProvider | None:
        """The provider for `region`; None when that is the stack's default one, which
        resources use without naming it. The first region asked for becomes the default.
        Another region gets an aliased provider on the default's endpoint (an emulator then
        serves every region), which resources must name."""
        if self._aws_default is None:
            self._aws_default = (region, endpoint)
            self._make_aws("aws", None, region, endpoint)
            return None
        default_region, default_endpoint = self._aws_default
        if region == default_region:
            if endpoint not in (None, default_endpoint):
                raise ValueError(
                    f"AWS region {region} is asked for at endpoint {endpoint}, while the"
                    f" stack's AWS provider uses {default_endpoint or 'AWS itself'}"
                )
            return None
        alias = region.replace("-", "_")
        if alias not in self._aws:
            self._aws[alias] = self._make_aws(
                f"aws_{alias}", alias, region, endpoint or default_endpoint
            )
        return self._aws[alias]

    @property
    def made(self) -> set[str]:
        """The providers made so far, by the name their resource types start with."""
        return ({"aws"} if self._aws_default is not None else set()) | set(self._made)

    @property
    def aws_default_region(self) -> str | None:
        return self._aws_default[0] if self._aws_default is not None else None

    def _make_aws(
        self, id: str, alias: str | None, region: str, endpoint: str | None
    ) -> AwsProvider:
        tags = [AwsProviderDefaultTags(tags=self._tags)]
        if endpoint is None:
            return AwsProvider(self._stack, id, alias=alias, region=region, default_tags=tags)
        # An emulator: no STS, IAM or metadata service to ask. Its test credentials come
        # from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY like real ones, never from here.
        return AwsProvider(
            self._stack,
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

    def google(self, project: str, region: str | None) -> GoogleProvider:
        return self.shared(
            "google",
            lambda stack, id: GoogleProvider(
                stack, id, project=project, region=region, default_labels=self._tags
            ),
        )

    def rabbitmq(self, endpoint: str | None) -> RabbitmqProvider:
        """Admin credentials come from RABBITMQ_USERNAME / RABBITMQ_PASSWORD, read by the
        provider, never from the stack."""
        return self.shared(
            "rabbitmq", lambda stack, id: RabbitmqProvider(stack, id, endpoint=endpoint)
        )
