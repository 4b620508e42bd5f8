"""The commands behind the Makefile targets, one module each (the README's Layout lists them)."""
