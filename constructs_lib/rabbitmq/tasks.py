"""How many tasks a RabbitMQ queue, vhost or exchange holds, for the plan guard. No jsii."""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from constructs_lib.backend_spec import TaskCounter


def counter(stack: Mapping[str, Any], env: Mapping[str, str]) -> TaskCounter | None:
    """Tasks in a queue, in every queue of a vhost, or in the queues an exchange feeds, from
    the management API's message counts (ready and unacknowledged), with the admin
    credentials the provider reads from the environment; None without them."""
    providers = stack.get("provider", {})
    if "rabbitmq" not in providers:
        return None
    endpoint = providers["rabbitmq"][0].get("endpoint") or env.get("RABBITMQ_ENDPOINT")
    username, password = env.get("RABBITMQ_USERNAME"), env.get("RABBITMQ_PASSWORD")
    if not (endpoint and username and password):
        return None
    token = base64.b64encode(f"{username}:{password}".encode()).decode()

    def get(*parts: str) -> Any:
        path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
        request = urllib.request.Request(
            f"{endpoint.rstrip('/')}/api/{path}", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def messages(vhost: str, queue: str) -> int:
        return int(get("queues", vhost, queue).get("messages", 0))

    def count(resource_type: str, before: Mapping[str, Any]) -> int | None:
        if resource_type == "rabbitmq_queue":
            return messages(before["vhost"], before["name"])
        if resource_type == "rabbitmq_vhost":
            return sum(int(queue.get("messages", 0)) for queue in get("queues", before["name"]))
        if resource_type == "rabbitmq_exchange":
            bindings = get("exchanges", before["vhost"], before["name"], "bindings", "source")
            queues = {b["destination"] for b in bindings if b["destination_type"] == "queue"}
            return sum(messages(before["vhost"], queue) for queue in sorted(queues))
        return None

    return count
