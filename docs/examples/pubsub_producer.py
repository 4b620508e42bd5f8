"""Publish one task for worker N: `python pubsub_producer.py N TASK_ID SHARD`.

Environment: `make worker-env ENV=dev WORKER=producer` (PUBSUB_TOPIC,
PUBSUB_WORKER_ATTRIBUTE). Needs `pip install google-cloud-pubsub`.
"""

import json
import os
import sys

from google.cloud import pubsub_v1

worker, task_id, shard = int(sys.argv[1]), sys.argv[2], sys.argv[3]
task = {"task_id": task_id, "shard": shard, "model": {"learning_rate": 0.001, "epochs": 1}}
publisher = pubsub_v1.PublisherClient()
attribute = {os.environ["PUBSUB_WORKER_ATTRIBUTE"]: f"worker_{worker}"}  # picks the subscription
future = publisher.publish(os.environ["PUBSUB_TOPIC"], json.dumps(task).encode(), **attribute)
future.result()  # raises unless Pub/Sub has stored the task
