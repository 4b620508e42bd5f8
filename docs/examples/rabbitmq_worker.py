"""Take the task waiting in this worker's queue, train, then acknowledge it.

Environment: `make worker-env ENV=dev WORKER=N` (AMQP_VHOST, AMQP_QUEUE, AMQP_USER), plus
AMQP_HOST, AMQP_PORT and AMQP_PASSWORD: with passwords in SSM, `aws ssm get-parameter
--with-decryption --name "$AMQP_PASSWORD_PARAMETER" --query Parameter.Value --output text` as
the worker's role; else from your secret store.
"""

import json
import os
import sys

import pika

credentials = pika.PlainCredentials(os.environ["AMQP_USER"], os.environ["AMQP_PASSWORD"])
connection = pika.BlockingConnection(
    pika.ConnectionParameters(
        os.environ["AMQP_HOST"], int(os.environ["AMQP_PORT"]), os.environ["AMQP_VHOST"], credentials
    )
)
channel = connection.channel()
method, _, body = channel.basic_get(os.environ["AMQP_QUEUE"])
if method is not None:
    try:
        task = json.loads(body)
        print(f"task {task['task_id']}: training on {task['shard']} with {task['model']}")
    except Exception as error:
        # basic_reject with requeue, never basic_nack: a reject counts toward the queue's
        # delivery limit on every RabbitMQ line, so a task that fails every time is retried
        # up to the limit, then moved to ml_tasks.dead_letter. From 4.3 a nack does not
        # count ("the consumer did not process the message"), and would retry it for ever.
        channel.basic_reject(method.delivery_tag, requeue=True)
        connection.close()
        sys.exit(f"task rejected, returned to its queue: {error!r}")
    channel.basic_ack(method.delivery_tag)
connection.close()
