"""Where each RabbitMQ broker user's password comes from, and who may read it.

Why: with one sensitive variable per user, a deploy needed N + 1 passwords typed in by
hand, which does not reach 1,000 workers. With `password_store = "ssm"` Terraform generates
each password once into an SSM SecureString parameter, the broker user takes it from there,
and a worker's IAM role may read its own parameter and no other. No password is ever in
code, config or the synthesized JSON, and no Terraform command prints one: the generator is
ephemeral and writes through a write-only argument, and the broker user reads the
parameter through a data source whose id is the parameter's name and whose value the
provider marks sensitive.
"""

from __future__ import annotations

from cdktf import (
    Fn,
    TerraformElement,
    TerraformProvider,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
)
from constructs import Construct

from constructs_lib.backend_spec import from_template
from constructs_lib.ephemeral import EphemeralRandomPassword
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import check_props
from constructs_lib.providers import DataAwsSsmParameter, IamRolePolicy, SsmParameter
from constructs_lib.rabbitmq.props import (
    GET_ACTIONS,
    PARAMETER_PREFIX,
    RabbitMqPasswordsProps,
    password_id,
)
from constructs_lib.scan_exceptions import skip_check

# Letters and digits only: safe in an AMQP URL and on a rabbitmqctl command line unquoted.
PASSWORD_LENGTH = 32
GENERATOR = EphemeralRandomPassword(password_length=PASSWORD_LENGTH, exclude_punctuation=True)
# The parameter is written once, at its creation: the value is ignored afterwards, and so is
# the version, so that a stack moving here from the data-source generator keeps its
# passwords. Rotation replaces the parameter (`make rotate-password`).
WRITE_ONLY_VERSION = 1


def _named(element: TerraformElement, logical_id: str) -> None:
    """A short, stable address (`aws_ssm_parameter.rabbitmq_worker_3_password`) instead of
    the hashed one of a nested construct: operators type it to rotate a password."""
    element.override_logical_id(logical_id)


class RabbitMqPasswords(Construct):
    """The password of each broker user, by `password_store`.

    `ssm`: per user, an ephemeral `aws_secretsmanager_random_password` feeds the write-only
    `value_wo` of an `aws_ssm_parameter` (SecureString, standard tier), and a
    `data.aws_ssm_parameter` reads it back for the broker user. The generator yields a new
    value at every plan and is never stored; the parameter takes it once, when it is
    created, and ignores it afterwards. The data source depends on the parameter, so when
    the parameter is created or replaced Terraform reads it during that apply, and the user
    takes the new value in the same apply. Rotating one password is replacing its
    parameter: `make rotate-password ENV=<env> WORKER=<n>|producer`, which goes through the
    plan guard. The AWS managed key `alias/aws/ssm` encrypts the parameters, so the
    `ssm:GetParameter` grant on one parameter's ARN is the whole of a reader's access.

    `variables`: a sensitive Terraform variable per user, as before `ssm` existed; they sit
    directly in the stack, so the stack's JSON is what it was then.

    `provider`: the AWS provider of the parameters' region, when it is not the stack's
    default one.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: RabbitMqPasswordsProps,
        *,
        provider: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, id)
        check_props(props, owner="RabbitMqPasswords", where=self.node.path)
        self._props = props
        self._provider = provider
        self._environment = TerraformStack.of(self).node.id
        self._parameters: dict[int | None, SsmParameter] = {}

    def password(self, id: str, user: str, *, worker: int | None = None) -> str:
        """A reference to the password of broker user `user`: the producer's when `worker` is
        None, else worker `worker`'s. `id` names the user's resource in the stack."""
        who = "the producer" if worker is None else f"worker {worker}"
        if self._props.password_store == "variables":
            variable = TerraformVariable(
                TerraformStack.of(self),
                password_id(id),
                type="string",
                sensitive=True,
                nullable=False,
                description=f"RabbitMQ password of {who}; set TF_VAR_{id}_password",
            )
            return variable.string_value
        parameter = self._parameter(id, user, who, "producer" if worker is None else str(worker))
        self._parameters[worker] = parameter
        reader = self._reader(worker)
        if reader is not None:
            self._grant(id, f"{user}-rabbitmq-password", reader, parameter)
        stored = DataAwsSsmParameter(
            self,
            f"{id}_stored",
            name=attribute(parameter, "name"),
            with_decryption=True,
            provider=self._provider,
        )
        _named(stored, password_id(id))
        return stored.value

    def _parameter(self, id: str, user: str, who: str, rotate_as: str) -> SsmParameter:
        """Every argument but the value stays as created: an in-place update of a parameter
        written through `value_wo` fails (provider 5.100 puts the value it stored, which is
        empty), so such a change must come with a rotation, which replaces the parameter."""
        logical_id = password_id(id)
        generated = GENERATOR.add_to(TerraformStack.of(self), logical_id, provider=self._provider)
        parameter = SsmParameter(
            self,
            logical_id,
            name=f"{PARAMETER_PREFIX}/{self._environment}/rabbitmq/{user}",
            type="SecureString",
            tier="Standard",
            value_wo=generated,
            value_wo_version=WRITE_ONLY_VERSION,
            description=f"RabbitMQ password of {who} ({user}), generated once and kept: to"
            f" rotate it, make rotate-password ENV={self._environment} WORKER={rotate_as}",
            lifecycle=TerraformResourceLifecycle(ignore_changes=["value", "value_wo_version"]),
            provider=self._provider,
        )
        _named(parameter, logical_id)
        skip_check(
            parameter,
            "CKV_AWS_337",
            reason="the AWS managed key alias/aws/ssm lets whoever in the account may"
            " ssm:GetParameter this parameter decrypt it, so IAM on the parameter decides who"
            " reads it (each grant here names one parameter); a customer key would need a key"
            " policy kept in step with every worker's role",
        )
        return parameter

    def _reader(self, worker: int | None) -> str | None:
        if worker is None:
            return self._props.producer
        return from_template(self._props.worker_template)(worker)

    def _grant(self, id: str, name: str, role: str, parameter: SsmParameter) -> None:
        """One inline policy per role and password: its own parameter by ARN, nothing else."""
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": list(GET_ACTIONS),
                    "Resource": attribute(parameter, "arn"),
                }
            ],
        }
        policy = IamRolePolicy(
            self,
            f"{password_id(id)}_grant",
            name=name,
            role=role,
            policy=Fn.jsonencode(document),
            provider=self._provider,
        )
        _named(policy, f"{password_id(id)}_grant")

    def parameter_name(self, worker: int | None = None) -> str | None:
        """A reference to the name of the parameter holding the producer's password (worker
        None) or worker `worker`'s; None with `variables`."""
        parameter = self._parameters.get(worker)
        return attribute(parameter, "name") if parameter is not None else None

    @property
    def parameter_names(self) -> list[str]:
        """The producer's parameter first, then each worker's in order; empty with `variables`."""
        ordered = sorted(self._parameters, key=lambda worker: -1 if worker is None else worker)
        return [attribute(self._parameters[worker], "name") for worker in ordered]
