"""Operator commands behind the Makefile targets: definitions export, Terraform CLI config, moto."""
