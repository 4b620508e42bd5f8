"""Which Terraform resource types hold training tasks, or drop the tasks inside them when
they go: what `prevent_destroy` protects and what the plan guard counts before a delete.

No cdktf import: the plan guard (tools/plan_guard.py) reads it without a jsii runtime.
"""

from __future__ import annotations

TASK_HOLDING_TYPES = frozenset(
    {
        "aws_sqs_queue",
        "google_pubsub_topic",
        "google_pubsub_subscription",
        "rabbitmq_vhost",
        "rabbitmq_exchange",
        "rabbitmq_queue",
    }
)
