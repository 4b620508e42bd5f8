"""Publish one task for worker N: `python pubsub_producer.py N TASK_ID SHARD`.

Environment: `make worker-env ENV=dev WORKER=producer` (PUBSUB_WORKER_TOPICS, worker 1
first). Needs `pip install google-cloud-pubsub`.
"""

import json
import os
import sys

from google.cloud import pubsub_v1

worker, task_id, shard = int(sys.argv[1]), sys.argv[2], sys.argv[3]
task = {"task_id": task_id, "shard": shard, "model": {"learning_rate": 0.001, "epochs": 1}}
topics = os.environ["PUBSUB_WORKER_TOPICS"].split(",")
if not 1 <= worker <= len(topics):
    sys.exit(f"no worker {worker}: the stack has workers 1 to {len(topics)}")
publisher = pubsub_v1.PublisherClient()
future = publisher.publish(topics[worker - 1], json.dumps(task).encode())
future.result()  # raises unless Pub/Sub has stored the task (NOT_FOUND: no such topic)
