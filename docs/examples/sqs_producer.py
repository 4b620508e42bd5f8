"""Send one training task to worker N's SQS queue: `python sqs_producer.py N TASK_ID SHARD`.

Environment: `make worker-env ENV=dev WORKER=producer` (SQS_REGION, SQS_WORKER_QUEUE_URLS).
"""

import json
import os
import sys

import boto3

worker, task_id, shard = int(sys.argv[1]), sys.argv[2], sys.argv[3]
task = {"task_id": task_id, "shard": shard, "model": {"learning_rate": 0.001, "epochs": 1}}
sqs = boto3.client("sqs", region_name=os.environ["SQS_REGION"])
queue_url = os.environ["SQS_WORKER_QUEUE_URLS"].split(",")[worker - 1]
sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(task))
