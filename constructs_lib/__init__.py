"""Reusable constructs for training-task channels on SQS, Pub/Sub and RabbitMQ."""
