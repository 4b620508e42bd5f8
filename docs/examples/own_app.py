"""A cdktf app of your own with the three seed systems: `python own_app.py` writes cdktf.out."""

from cdktf import App, TerraformStack
from constructs import Construct

from constructs_lib.providers import AwsProvider, GoogleProvider
from constructs_lib.pubsub_task_topic import PubSubTaskTopic, PubSubTaskTopicProps
from constructs_lib.rabbitmq_bindings import RabbitmqProvider, Vhost
from constructs_lib.rabbitmq_task_exchange import RabbitMqTaskExchange, RabbitMqTaskExchangeProps
from constructs_lib.sqs_task_queue import SqsTaskQueue, SqsTaskQueueProps


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
        # Direct exchange `ml_tasks`, durable queues worker_queue_1..3 bound by their names.
        vhost = Vhost(self, "vhost", name="training")
        RabbitMqTaskExchange(
            self, "exchange", RabbitMqTaskExchangeProps(vhost=vhost.name, workers=3)
        )


if __name__ == "__main__":
    app = App()
    TrainingQueues(app, "training")
    app.synth()
