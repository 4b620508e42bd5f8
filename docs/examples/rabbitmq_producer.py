"""Publish one task for worker N: `python rabbitmq_producer.py N TASK_ID SHARD`.

Environment: `make worker-env ENV=dev WORKER=producer` (AMQP_VHOST, AMQP_EXCHANGE,
AMQP_ROUTING_KEYS, AMQP_USER), plus AMQP_HOST, AMQP_PORT and AMQP_PASSWORD: with passwords
in SSM, `aws ssm get-parameter --with-decryption --name "$AMQP_PASSWORD_PARAMETER"
--query Parameter.Value --output text` as the producer's role; else from your secret store.
"""

import json
import os
import sys

import pika

worker, task_id, shard = int(sys.argv[1]), sys.argv[2], sys.argv[3]
task = {"task_id": task_id, "shard": shard, "model": {"learning_rate": 0.001, "epochs": 1}}
credentials = pika.PlainCredentials(os.environ["AMQP_USER"], os.environ["AMQP_PASSWORD"])
connection = pika.BlockingConnection(
    pika.ConnectionParameters(
        os.environ["AMQP_HOST"], int(os.environ["AMQP_PORT"]), os.environ["AMQP_VHOST"], credentials
    )
)
channel = connection.channel()
# Publisher confirms: the broker answers each task with an ack once it has stored it, or a
# nack when it refused it (a full queue, `max_length`, refuses: `overflow = reject-publish`).
# Without confirms a refused task is dropped at the door and nobody knows.
channel.confirm_delivery()
routing_key = os.environ["AMQP_ROUTING_KEYS"].split(",")[worker - 1]
properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
try:
    channel.basic_publish(os.environ["AMQP_EXCHANGE"], routing_key, json.dumps(task), properties)
except pika.exceptions.NackError:
    sys.exit(f"task {task_id} refused by the broker (its queue is full): not sent, send it later")
finally:
    connection.close()
