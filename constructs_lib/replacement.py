"""Replace what refers to a task-holding resource in the same apply that replaces it.

Why: when Terraform replaces a RabbitMQ queue, the broker drops its bindings, but the
`rabbitmq_binding` in state still names the same queue, so Terraform keeps it and tasks for
that worker become unroutable until a second apply. The same holds for an SQS queue's
policies, a Pub/Sub subscription's IAM members, and a subscription of a replaced topic (it
would receive nothing more). `replace_triggered_by` replaces them with the resource they
refer to.

The reference is to the resource's `id`, not the resource: a resource reference fires on an
update in place too, which would recreate policies and IAM members (a gap without them) on
every routine change; `id` changes only when the resource is replaced (it is unknown in the
plan then). Terraform takes only bare references there (`aws_sqs_queue.name.id`); cdktf
renders a resource or its `fqn` as `${...}`, which Terraform refuses, so it is written out.
"""

from __future__ import annotations

from cdktf import TerraformResource, TerraformResourceLifecycle

from constructs_lib.jsii_cache import logical_id, resource_type


def replaced_with(*resources: TerraformResource) -> TerraformResourceLifecycle:
    """A lifecycle that replaces its resource whenever one of `resources` is replaced."""
    return TerraformResourceLifecycle(
        replace_triggered_by=[
            f"{resource_type(resource)}.{logical_id(resource)}.id" for resource in resources
        ]
    )
