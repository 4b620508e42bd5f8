"""Reusable constructs for training-task channels on SQS, Pub/Sub and RabbitMQ."""

# The version of the installable package (pyproject.toml reads it from this line).
__version__ = "0.2.0"
