# Tansiq: `make up` runs everything in the foreground, `make test` runs every test.
# Both install what is missing (Python packages into .venv, PostgreSQL from Debian's packages,
# the Kafka jars through Maven) and start PostgreSQL and Kafka on loopback when they are not up.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml */pyproject.toml */*/pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
SERVICES := registry agreements engagements reporting
STACK := bash ops/local/stack.sh
WITH_ENV = eval "$$($(STACK) env)"; export AUTH_JWKS_FILE="$${AUTH_JWKS_FILE:-$(CURDIR)/.local/keys/jwks.json}";

.PHONY: help install lock stack migrate seed dev-key up start stop test fuzz lint k8s-validate

help:
	@echo "make up     run PostgreSQL, Kafka and the four services in the foreground (Ctrl-C stops)"
	@echo "make test   run every test (installs and starts what is missing)"
	@echo "make start  like up, detached; returns when every /health/ready is 200"
	@echo "make stop   stop what start/up started"
	@echo "make lint   ruff, ruff format --check, mypy, import boundaries"
	@echo "make k8s-validate   deploy/ checked offline: overlays, schemas, policies, compose, alerts"
	@echo "make fuzz   the API fuzzer, deeper than in make test (FUZZ_EXAMPLES=300 per operation)"

$(STAMP): requirements.lock
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@[ -x $(PY) ] || uv venv --quiet --python python3 $(VENV)
	uv pip install --quiet --python $(PY) -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Re-pin every dependency (writes requirements.lock; no index address is recorded).
lock:
	uv pip compile requirements.in -o requirements.lock --python-version 3.11 --no-header --no-annotate

stack:
	$(STACK) up

migrate: install stack
	@$(WITH_ENV) $(VENV)/bin/tansiq migrate $(SERVICES)

# The demo data, into running services (the other services check the registry's organizations
# in their replicas, which the registry's events fill): `make start` first.
seed: install
	@$(WITH_ENV) $(VENV)/bin/tansiq seed

# The development signing key the services trust (AUTH_JWKS_FILE) and `tansiq token` signs with.
dev-key: install
	@$(VENV)/bin/tansiq dev-key >/dev/null

# Both: migrations, the services, then the demo data once every service is ready.
up: migrate dev-key
	@$(WITH_ENV) exec bash ops/run-services.sh foreground

start: migrate dev-key
	@$(WITH_ENV) bash ops/run-services.sh background

stop:
	@bash ops/run-services.sh stop || true
	@$(STACK) down

test: install stack
	@$(WITH_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# The fuzzer of `make test` (tests/fuzz) with many more cases, random data, and the known gaps
# (tests/fuzz/known_gaps.py) failing too.
FUZZ_EXAMPLES ?= 300
fuzz: install stack
	@$(WITH_ENV) TANSIQ_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TANSIQ_FUZZ_RANDOM=1 TANSIQ_FUZZ_STRICT=1 \
		$(VENV)/bin/pytest tests/fuzz/test_api_fuzz.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# deploy/ checked offline against the code: both overlays rendered and every object validated
# (vendored CRD schemas), policies, docker-compose.yml, the alerts (promtool) and the dashboard.
k8s-validate: install
	@bash deploy/tools/install-promtool.sh
	@$(PY) deploy/tools/k8s_validate.py
