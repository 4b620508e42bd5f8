# The two commands a newcomer needs: `make synth` and `make test`. Each installs what is
# missing first (Python packages from Pipfile.lock, npm packages from package-lock.json).

SHELL := /bin/bash
PYTHON ?= python3

# The virtualenv lives in .venv, where pipenv (and `cdktf synth`'s `pipenv run`) finds it.
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_NOSPIN := 1
export PIPENV_YES := 1
export PIPENV_VERBOSITY := -1
# No call home from the cdktf CLI, no Node end-of-life banner from jsii on every run.
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

PIPENV := $(PYTHON) -m pipenv
VENV_STAMP := .venv/.installed-from-lock
NPM_STAMP := node_modules/.installed-from-lock

.PHONY: install synth test snapshot-update lint bench clean

install: $(VENV_STAMP) $(NPM_STAMP)

$(VENV_STAMP): Pipfile.lock
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PIPENV) sync --dev
	@touch $@

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

synth: install
	npx cdktf synth

test: install
	$(PIPENV) run pytest

snapshot-update: install
	$(PIPENV) run pytest tests/stacks/test_app.py --snapshot-update

# Times synth against the usual imports and how it scales; rewrites bench/results.md (minutes).
bench: install
	$(PIPENV) run python bench/run.py

lint: $(VENV_STAMP)
	$(PIPENV) run ruff check .
	$(PIPENV) run ruff format --check .
	$(PIPENV) run mypy

clean:
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache
