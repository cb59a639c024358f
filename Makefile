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

.PHONY: help install lock stack migrate seed dev-key up start stop test fuzz lint k8s-validate bench mutants

help:
	@echo "make up     run PostgreSQL, Kafka and the four services in the foreground (Ctrl-C stops)"
	@echo "make test   run every test (installs and starts what is missing)"
	@echo "make start  like up, detached; returns when every /health/ready is 200"
	@echo "make stop   stop what start/up started"
	@echo "make lint   ruff, ruff format --check, mypy, import boundaries"
	@echo "make mutants   mutation testing of the pure rules: kill rate per module ([tool.mutmut])"
	@echo "make k8s-validate   deploy/ checked offline: overlays, schemas, policies, compose, alerts"
	@echo "make bench  benchmarks against raw asyncpg baselines (not tests; about 10 minutes)"
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

# The browser tests (offline /docs, the dashboard) drive Debian's chromium: installed if missing.
test: install stack
	@bash ops/local/browser.sh >/dev/null
	@$(WITH_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# Benchmarks (not tests): each scenario against the service and a raw Starlette + asyncpg app
# doing the same work, in the same run, wrk/hey as load generators; bounded (about 10 minutes).
# BENCH_ORGS=1000000 etc. for bigger data; see docs/performance.md.
BENCH_ORGS ?= 100000
BENCH_SECONDS ?= 8
bench: install stack
	@command -v wrk >/dev/null && command -v hey >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk hey >/dev/null; }
	@$(WITH_ENV) $(PY) benchmarks/bench.py --orgs $(BENCH_ORGS) --seconds $(BENCH_SECONDS)
	@$(WITH_ENV) $(PY) benchmarks/agreements_bench.py --agreements 20000 --seconds $(BENCH_SECONDS)
	@$(WITH_ENV) $(PY) benchmarks/engagements_bench.py --engagements 20000 \
		--seconds $(BENCH_SECONDS) --batches 10 --batch 500 --messages 10000
	@$(WITH_ENV) $(PY) benchmarks/reporting_bench.py --engagements 100000 --orgs 10000 \
		--requests 500 --seconds 10

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

# Mutation testing of the pure rules: the modules and their unit tests (no database) are listed
# in pyproject.toml's [tool.mutmut]. mutmut finds code under src/, so every package's src/ is
# merged into one under $(MUTATION_DIR) beside copies of those tests, and mutmut runs there.
# Prints the kill rate per module and the survivors (`cd $(MUTATION_DIR) && mutmut show NAME`
# shows one); fails when a module kills less than MUTANTS_MIN %. At most MUTANTS_CHILDREN
# mutants run at once (the machine is shared).
MUTATION_DIR := .local/mutation
MUTANTS_CHILDREN ?= 2
MUTANTS_MIN ?= 90
mutants: install
	@rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)/src
	@cp -r libs/common/src/tansiq_common services/*/src/tansiq_* $(MUTATION_DIR)/src/
	@find $(MUTATION_DIR)/src -name __pycache__ -prune -exec rm -rf {} +
	@cp pyproject.toml $(MUTATION_DIR)/
	@$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])' \
		| xargs cp --parents -t $(MUTATION_DIR)
	@cd $(MUTATION_DIR) && $(CURDIR)/$(VENV)/bin/mutmut run --max-children $(MUTANTS_CHILDREN)
	@cd $(MUTATION_DIR) && $(CURDIR)/$(VENV)/bin/mutmut results --all true \
		| MUTANTS_MIN=$(MUTANTS_MIN) $(CURDIR)/$(PY) -c "$$MUTATION_REPORT"

# Reads `mutmut results --all true` lines ("    module.x_function__mutmut_N: status"); a timeout
# counts as killed (the mutant broke the code's termination, and the tests noticed).
define MUTATION_REPORT
import collections, os, re, sys
counts = collections.defaultdict(collections.Counter)
left = collections.defaultdict(list)
for line in sys.stdin:
    name, _, status = line.strip().rpartition(": ")
    if not name:
        continue
    module = re.split(r"\.x[_\u01c1]", name, maxsplit=1)[0]
    status = "killed" if status == "timeout" else status
    counts[module][status] += 1
    if status != "killed":
        left[module].append(f"{name} ({status})")
below = []
for module in sorted(counts):
    total, killed = sum(counts[module].values()), counts[module]["killed"]
    rate = 100 * killed / total
    below += [module] if rate < float(os.environ["MUTANTS_MIN"]) else []
    print(f"{module:48} {killed:4}/{total:<4} killed  {rate:5.1f}%")
for module in sorted(left):
    print(f"\n{module}: not killed")
    print("\n".join(f"  {name}" for name in left[module]))
sys.exit(f"below {os.environ['MUTANTS_MIN']}% killed: {', '.join(below)}" if below else 0)
endef
export MUTATION_REPORT

# deploy/ checked offline against the code: both overlays rendered and every object validated
# (vendored CRD schemas), policies, docker-compose.yml, the alerts (promtool) and the dashboard.
k8s-validate: install
	@bash deploy/tools/install-promtool.sh
	@$(PY) deploy/tools/k8s_validate.py
