"""Pull the task waiting on this worker's subscription, train, then acknowledge it.

Environment: `make worker-env ENV=dev WORKER=N` (PUBSUB_SUBSCRIPTION). Needs
`pip install google-cloud-pubsub`.
"""

import json
import os

from google.cloud import pubsub_v1

subscription = os.environ["PUBSUB_SUBSCRIPTION"]
subscriber = pubsub_v1.SubscriberClient()
response = subscriber.pull(subscription=subscription, max_messages=1, timeout=30)
for received in response.received_messages:
    task = json.loads(received.message.data)
    print(f"task {task['task_id']}: training on {task['shard']} with {task['model']}")
    # Steps longer than the ack deadline extend it with modify_ack_deadline while they run.
    subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id])
