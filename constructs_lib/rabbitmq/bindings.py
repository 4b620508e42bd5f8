"""Typed cdktf bindings for the cyrilgdn/rabbitmq Terraform provider (1.10.1), written by hand.

Why by hand: no prebuilt `cdktf-cdktf-provider-rabbitmq` package exists on PyPI or npm,
and `cdktf get` must download the provider from the Terraform registry, which CI cannot
reach. These classes synthesize exactly what a generated binding would: attribute names,
required and optional arguments and nested blocks follow the provider's schema at v1.10.1
(`rabbitmq/provider.go` and `rabbitmq/resource_*.go`); `tests/rabbitmq_provider_schema.json`
is that schema, and the tests hold these classes to it. Optional arguments left as None are
left out of the JSON, so the provider's own defaults apply. A nested block that the schema
caps at one item (`MaxItems: 1`) is written as one JSON object, as generated bindings do.

Class names are the ones `cdktf get` generates, so switching to generated bindings is an
import change. With access to the Terraform registry:

    npx cdktf provider add "cyrilgdn/rabbitmq@1.10.1" --force-local

writes `imports/rabbitmq/`; then import `Queue`, `QueueSettings`, ... from
`imports.rabbitmq.<resource>` in `constructs_lib/rabbitmq_task_exchange.py` and
`stacks/ml_queues_stack.py`, and delete this module and its tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import jsii
from cdktf import (
    ITerraformDependable,
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
    TerraformResource,
    TerraformResourceLifecycle,
)
from constructs import Construct

PROVIDER_SOURCE = "cyrilgdn/rabbitmq"
# Exact, like the prebuilt AWS and Google bindings: the schema in
# tests/rabbitmq_provider_schema.json was transcribed from this release.
PROVIDER_VERSION_CONSTRAINT = "1.10.1"

_GENERATOR = TerraformProviderGeneratorMetadata(
    provider_name="rabbitmq", provider_version_constraint=PROVIDER_VERSION_CONSTRAINT
)


def _present(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset arguments, so that Terraform applies the provider's defaults."""
    return {key: value for key, value in attributes.items() if value is not None}


class RabbitmqProvider(TerraformProvider):
    """The `rabbitmq` provider block.

    Every argument may be left out: the provider reads RABBITMQ_ENDPOINT, RABBITMQ_USERNAME,
    RABBITMQ_PASSWORD, RABBITMQ_INSECURE, RABBITMQ_CACERT, RABBITMQ_CLIENTCERT,
    RABBITMQ_CLIENTKEY and RABBITMQ_PROXY itself. Leave `password` to the environment; a
    value given here is written to the synthesized JSON in clear text.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: str | None = None,
        username: str | None = None,
        password: str | None = None,
        insecure: bool | None = None,
        cacert_file: str | None = None,
        clientcert_file: str | None = None,
        clientkey_file: str | None = None,
        proxy: str | None = None,
        alias: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            terraform_resource_type="rabbitmq",
            terraform_generator_metadata=_GENERATOR,
            terraform_provider_source=PROVIDER_SOURCE,
        )
        self._arguments: dict[str, Any] = {
            "endpoint": endpoint,
            "username": username,
            "password": password,
            "insecure": insecure,
            "cacert_file": cacert_file,
            "clientcert_file": clientcert_file,
            "clientkey_file": clientkey_file,
            "proxy": proxy,
        }
        if alias is not None:
            self.alias = alias

    @jsii.member(jsii_name="synthesizeAttributes")
    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return _present({**self._arguments, "alias": self.alias})


class _RabbitmqResource(TerraformResource):
    """Plumbing shared by the resources: the provider metadata and the jsii override."""

    TF_RESOURCE_TYPE: ClassVar[str]

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        arguments: Mapping[str, Any],
        provider: TerraformProvider | None,
        depends_on: Sequence[ITerraformDependable] | None,
        lifecycle: TerraformResourceLifecycle | None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            terraform_resource_type=self.TF_RESOURCE_TYPE,
            terraform_generator_metadata=_GENERATOR,
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )
        self._arguments = dict(arguments)

    @jsii.member(jsii_name="synthesizeAttributes")
    def _synthesize_attributes(self) -> Mapping[str, Any]:
        return _present(self._arguments)

    @property
    def id(self) -> str:
        return self.get_string_attribute("id")


@dataclass(frozen=True, kw_only=True)
class ExchangeSettings:
    """`rabbitmq_exchange.settings`; every field is ForceNew in the provider."""

    type: str
    durable: bool | None = None
    auto_delete: bool | None = None
    arguments: Mapping[str, str] | None = None

    def to_terraform(self) -> dict[str, Any]:
        return _present(
            {
                "type": self.type,
                "durable": self.durable,
                "auto_delete": self.auto_delete,
                "arguments": self.arguments,
            }
        )


@dataclass(frozen=True, kw_only=True)
class QueueSettings:
    """`rabbitmq_queue.settings`; `arguments` and `arguments_json` exclude each other."""

    durable: bool | None = None
    auto_delete: bool | None = None
    arguments: Mapping[str, str] | None = None
    arguments_json: str | None = None

    def __post_init__(self) -> None:
        if self.arguments is not None and self.arguments_json is not None:
            raise ValueError("QueueSettings: set either arguments or arguments_json, not both")

    def to_terraform(self) -> dict[str, Any]:
        return _present(
            {
                "durable": self.durable,
                "auto_delete": self.auto_delete,
                "arguments": self.arguments,
                "arguments_json": self.arguments_json,
            }
        )


@dataclass(frozen=True, kw_only=True)
class PermissionsPermissions:
    """`rabbitmq_permissions.permissions`: regular expressions over resource names."""

    configure: str
    write: str
    read: str

    def to_terraform(self) -> dict[str, Any]:
        return {"configure": self.configure, "write": self.write, "read": self.read}


@dataclass(frozen=True, kw_only=True)
class PolicyPolicy:
    """`rabbitmq_policy.policy`; unlike queue settings it updates in place."""

    pattern: str
    priority: int
    apply_to: str
    definition: Mapping[str, str]

    def to_terraform(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "priority": self.priority,
            "apply_to": self.apply_to,
            "definition": dict(self.definition),
        }


class Vhost(_RabbitmqResource):
    """`rabbitmq_vhost`; its id is its name."""

    TF_RESOURCE_TYPE = "rabbitmq_vhost"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        description: str | None = None,
        default_queue_type: str | None = None,
        tracing: bool | None = None,
        max_connections: str | None = None,
        max_queues: str | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={
                "name": name,
                "description": description,
                "default_queue_type": default_queue_type,
                "tracing": tracing,
                "max_connections": max_connections,
                "max_queues": max_queues,
            },
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def name(self) -> str:
        return self.get_string_attribute("name")

    @property
    def name_input(self) -> str:
        """The name as given, not a reference: what a construct handed this vhost checks."""
        name: str = self._arguments["name"]
        return name


class Exchange(_RabbitmqResource):
    """`rabbitmq_exchange`; the provider's default vhost is `/`."""

    TF_RESOURCE_TYPE = "rabbitmq_exchange"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        settings: ExchangeSettings,
        vhost: str | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={"name": name, "vhost": vhost, "settings": settings.to_terraform()},
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def name(self) -> str:
        return self.get_string_attribute("name")


class Queue(_RabbitmqResource):
    """`rabbitmq_queue`; the provider's default vhost is `/`."""

    TF_RESOURCE_TYPE = "rabbitmq_queue"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        settings: QueueSettings,
        vhost: str | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={"name": name, "vhost": vhost, "settings": settings.to_terraform()},
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def name(self) -> str:
        return self.get_string_attribute("name")


class Binding(_RabbitmqResource):
    """`rabbitmq_binding`; unlike exchanges and queues, `vhost` is required here."""

    TF_RESOURCE_TYPE = "rabbitmq_binding"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source: str,
        vhost: str,
        destination: str,
        destination_type: str,
        routing_key: str | None = None,
        arguments: Mapping[str, str] | None = None,
        arguments_json: str | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        if arguments is not None and arguments_json is not None:
            raise ValueError("Binding: set either arguments or arguments_json, not both")
        super().__init__(
            scope,
            id_,
            arguments={
                "source": source,
                "vhost": vhost,
                "destination": destination,
                "destination_type": destination_type,
                "routing_key": routing_key,
                "arguments": arguments,
                "arguments_json": arguments_json,
            },
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def properties_key(self) -> str:
        return self.get_string_attribute("properties_key")


class User(_RabbitmqResource):
    """`rabbitmq_user`; pass the password as a sensitive variable's value, never a literal."""

    TF_RESOURCE_TYPE = "rabbitmq_user"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        password: str,
        tags: Sequence[str] | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={
                "name": name,
                "password": password,
                "tags": list(tags) if tags is not None else None,
            },
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def name(self) -> str:
        return self.get_string_attribute("name")


class Permissions(_RabbitmqResource):
    """`rabbitmq_permissions`: what one user may configure, write and read in one vhost."""

    TF_RESOURCE_TYPE = "rabbitmq_permissions"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        user: str,
        permissions: PermissionsPermissions,
        vhost: str | None = None,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={"user": user, "vhost": vhost, "permissions": permissions.to_terraform()},
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )


class Policy(_RabbitmqResource):
    """`rabbitmq_policy`: the place for settings that must change without recreating queues."""

    TF_RESOURCE_TYPE = "rabbitmq_policy"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        vhost: str,
        policy: PolicyPolicy,
        provider: TerraformProvider | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id_,
            arguments={"name": name, "vhost": vhost, "policy": policy.to_terraform()},
            provider=provider,
            depends_on=depends_on,
            lifecycle=lifecycle,
        )

    @property
    def name(self) -> str:
        return self.get_string_attribute("name")
