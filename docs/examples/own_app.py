"""A cdktf app of your own with the three seed systems: `python own_app.py` writes cdktf.out."""

from cdktf import App, TerraformStack
from constructs import Construct

from constructs_lib.providers import AwsProvider, GoogleProvider
from constructs_lib.pubsub import PubSubTaskTopic, PubSubTaskTopicProps
from constructs_lib.rabbitmq import (
    RabbitmqProvider,
    RabbitMqTaskExchange,
    RabbitMqTaskExchangeProps,
)
from constructs_lib.sqs import SqsTaskQueue, SqsTaskQueueProps


class TrainingQueues(TerraformStack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        AwsProvider(self, "aws", region="eu-west-1")
        GoogleProvider(self, "google", project="my-ml-project")
        RabbitmqProvider(self, "rabbitmq")  # RABBITMQ_ENDPOINT, _USERNAME, _PASSWORD
        # One SQS task queue with its dead-letter queue.
        SqsTaskQueue(self, "tasks", SqsTaskQueueProps(name="training-tasks"))
        # One Pub/Sub topic with its subscription (no per-worker topics).
        PubSubTaskTopic(self, "topic", PubSubTaskTopicProps(project="my-ml-project", workers=0))
        # Vhost `training` (made by the exchange), direct exchange `ml_tasks`, and durable
        # queues worker_queue_1..3 bound by their names.
        RabbitMqTaskExchange(
            self, "exchange", RabbitMqTaskExchangeProps(vhost="training", workers=3)
        )


if __name__ == "__main__":
    app = App()
    TrainingQueues(app, "training")
    app.synth()
