"""Reusable cdktf constructs for training-task channels on SQS, Pub/Sub and RabbitMQ.

The public API, one import path per backend; each path's props import without jsii:
- `constructs_lib.sqs`: `SqsTaskQueue`, `SqsTaskQueueProps`, `SqsTaskChannel`,
  `SqsTaskChannelProps`;
- `constructs_lib.pubsub`: `PubSubTaskTopic`, `PubSubTaskTopicProps`;
- `constructs_lib.rabbitmq`: `RabbitMqTaskExchange`, `RabbitMqTaskExchangeProps`,
  `RabbitMqPasswords`, `RabbitMqPasswordsProps`, `RabbitmqProvider`, `Vhost`, `User`;
- `constructs_lib.providers`: the AWS and Google provider classes the constructs are built on;
- `constructs_lib.limits.LimitError`: what a construct raises for a value the cloud would refuse.
Everything else is the ml-queues app's own and may change between versions.
"""

# The version of the installable package (pyproject.toml reads it from this line).
__version__ = "0.2.0"
