"""How the ml-queues app adds its RabbitMQ channel, users and passwords to a stack."""

from __future__ import annotations

from cdktf import TerraformOutput

from constructs_lib.backend_spec import AppStack, Principals
from constructs_lib.channel import TaskChannel
from constructs_lib.rabbitmq.bindings import User
from constructs_lib.rabbitmq.exchange import RabbitMqTaskExchange, task_vhost
from constructs_lib.rabbitmq.passwords import RabbitMqPasswords
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps, rabbitmq_user_id


def build(stack: AppStack, props: RabbitMqTaskExchangeProps) -> tuple[TaskChannel, Principals]:
    scope = stack.construct
    stack.providers.rabbitmq(props.endpoint)
    # Made here rather than by the exchange, so that it keeps the address it had when the
    # stack made it (`rabbitmq_vhost.vhost`), which deployed state depends on.
    vhost = task_vhost(
        scope, props, description=f"ml-queues training tasks, environment {stack.environment}"
    )
    exchange = RabbitMqTaskExchange(scope, "rabbitmq_task_exchange", props, vhost=vhost)
    passwords_props = props.passwords
    region = passwords_props.password_region
    provider = (
        stack.providers.aws(region)
        if passwords_props.password_store == "ssm" and region is not None
        else None
    )
    passwords = RabbitMqPasswords(scope, "rabbitmq_passwords", passwords_props, provider=provider)

    def user(worker: int | None) -> str:
        """A broker user whose password is a reference: it never enters the JSON."""
        id = rabbitmq_user_id(worker)
        who = "producer" if worker is None else f"worker-{worker}"
        name = f"ml-queues-{stack.name_suffix}-{who}"
        password = passwords.password(id, name, worker=worker)
        return User(scope, id, name=name, password=password).name

    producer = user(None)
    users = {n: user(n) for n in range(1, stack.workers + 1)}
    exchange.keep_passwords_in(passwords.parameter_name)
    if passwords.parameter_names:
        TerraformOutput(
            scope,
            "rabbitmq_password_parameters",
            value=passwords.parameter_names,
            description="SSM parameters holding the RabbitMQ passwords (SecureString), the"
            " producer's first, then each worker's",
        )
    return exchange, Principals(producer, users.get)
