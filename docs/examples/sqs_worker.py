"""Take the tasks waiting for this worker (its own queue, then the shared one) and train.

Environment: `make worker-env ENV=dev WORKER=N` (SQS_REGION, SQS_QUEUE_URL, SQS_SHARED_QUEUE_URL).
"""

import json
import os

import boto3

sqs = boto3.client("sqs", region_name=os.environ["SQS_REGION"])
for queue_url in (os.environ["SQS_QUEUE_URL"], os.environ["SQS_SHARED_QUEUE_URL"]):
    for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
        task = json.loads(message["Body"])
        print(f"task {task['task_id']}: training on {task['shard']} with {task['model']}")
        # Delete only after the step succeeded; a crash lets the task come back.
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
