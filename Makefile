# Bebas Cemas — every workflow starts here. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck unit schemas browser prometheus bench reliability clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies (idempotent)

browser: ## Install Debian's chromium for the dashboard browser test, when missing
	@bash scripts/ensure-chromium.sh

prometheus: ## Install Debian's prometheus (promtool for the alert rule tests; the server for make run), when missing
	@bash scripts/ensure-debian-tool.sh promtool prometheus "the alert rule tests (promtool) and make run's Prometheus"

run: install ## Start the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and every service
	$(PY) -m services.platform run

lint: install ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check schemas services tests bench

typecheck: install ## mypy --strict on the project's packages
	$(VENV)/bin/mypy

test: install browser prometheus ## Lint, type check, unit, integration and end-to-end tests on a real broker
	$(MAKE) --no-print-directory lint typecheck
	$(PY) -m pytest

schemas: install ## Regenerate the committed JSON Schemas and AsyncAPI document from the models
	$(PY) -m schemas.generate

bench: install ## Measure every performance figure side by side (writes bench/results/latest.json and .md)
	@bash scripts/ensure-debian-tool.sh wrk wrk "the HTTP load in make bench"
	$(PY) -m bench

reliability: install ## Fault scenarios under load, 0 lost / 0 duplicated (writes bench/results/reliability.json)
	$(PY) -m bench.reliability

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
