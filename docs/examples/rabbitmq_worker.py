"""Take the task waiting in this worker's queue, train, then acknowledge it.

Environment: `make worker-env ENV=dev WORKER=N` (AMQP_VHOST, AMQP_QUEUE, AMQP_USER), plus
AMQP_HOST, AMQP_PORT and AMQP_PASSWORD: with passwords in SSM, `aws ssm get-parameter
--with-decryption --name "$AMQP_PASSWORD_PARAMETER" --query Parameter.Value --output text` as
the worker's role; else from your secret store.
"""

import json
import os

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
    task = json.loads(body)
    print(f"task {task['task_id']}: training on {task['shard']} with {task['model']}")
    # A reject (basic_nack) would redeliver it, up to the delivery limit, then dead-letter it.
    channel.basic_ack(method.delivery_tag)
connection.close()
