# The two commands the README opens with: `make run` and `make test`. Both work on a fresh
# Debian machine: they install the OS packages (as root, with apt) and a .venv, then do their job.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The distribution's interpreter when there is one: the sandbox runs Python programs with the
# same binary, and Debian's build (PGO/LTO) starts `coderun run` sooner than a from-source
# pyenv build (docs/architecture.md, start-up budget). Override with `make PYTHON=...`.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast reliability lint lint-ts deps os-deps test-os-deps bytecode bench bench-helm web crds clients-openapi images cluster-up cluster-down cluster-images kind-up clean help

# The .venv: the project and its dev tools, editable (needs os-deps).
deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml | os-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@# The official Python client (clients/python), which `coderun submit` uses; its src
	@# layout installs as a plain path file, no editable finder at interpreter start.
	$(BIN)/pip install -q -e clients/python
	@# A plain path file in place of setuptools' editable finder, which every interpreter
	@# start would import: part of `coderun run`'s start-up budget (coderun_sandbox/startup.py).
	for pth in $(VENV)/lib/python*/site-packages/__editable__.coderun-*.pth; do \
	  printf '%s\n' "$(CURDIR)/api" "$(CURDIR)/operator" "$(CURDIR)/sandbox-images/runner" > "$$pth"; \
	done
	$(MAKE) --no-print-directory bytecode
	touch $@

# Compiled bytecode for our packages, as `pip install` leaves for a regular install, and the
# compiled syscall filter, so that a short-lived `coderun run` neither recompiles nor loads
# libseccomp when PYTHONDONTWRITEBYTECODE is set (coderun_sandbox/startup.py).
bytecode:
	$(BIN)/python -m compileall -q api/coderun_api operator/coderun_operator sandbox-images/runner/coderun_sandbox
	$(BIN)/python -m coderun_sandbox.syscall_filter

# What the product needs (`make run`): bubblewrap, libseccomp and the four toolchains.
os-deps:
	@bash .ci/install-os-packages.sh product

# What only the tests and benchmarks need on top: Redis, PostgreSQL, Chromium, hyperfine and
# the test cluster's container engine and tools. A newcomer who only runs the API skips them.
test-os-deps:
	@bash .ci/install-os-packages.sh test

# `coderun serve` on HOST:PORT (127.0.0.1:8000): the API, the dashboard, the local sandbox.
run: deps
	$(BIN)/coderun serve --host $(HOST) --port $(PORT)

# ruff check, ruff format --check and mypy --strict over the code, tests and benchmarks.
lint: deps lint-ts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# ESLint with typescript-eslint (type-checked rules) over the web pages' sources and the
# TypeScript client. Each package pins eslint in its own devDependencies and lockfile, so a
# fresh clone gets the same linter from `npm ci`; the install is skipped while node_modules
# is newer than the lockfile.
TS_PACKAGES := api/web clients/typescript
lint-ts: $(TS_PACKAGES:%=%/node_modules/.package-lock.json)
	@for dir in $(TS_PACKAGES); do echo "eslint $$dir"; (cd $$dir && npm run --silent lint) || exit 1; done

%/node_modules/.package-lock.json: %/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20 with npm" >&2; exit 1; }
	cd $* && npm ci --no-audit --no-fund

# The whole suite: lint, then every test, including the ones that bring up the real
# Kubernetes test cluster, Redis, PostgreSQL and Chromium through pytest fixtures. The local
# and the cluster halves run at once, the fault tests last and alone (tests/run_suites.sh).
test: deps test-os-deps lint
	bash tests/run_suites.sh $(PYTEST_ARGS)

# Everything but the cluster tests, for a quick loop while developing.
test-fast: deps test-os-deps
	$(BIN)/pytest -q -ra -m 'not cluster' $(PYTEST_ARGS)

# The fault tests alone (tests/reliability: components restarted on the test cluster, one at
# a time), then docs/reliability.md regenerated from the figures they wrote. `make test` runs
# the same tests but writes nothing.
RELIABILITY_RESULTS ?= .reliability-results
reliability: deps test-os-deps
	rm -rf $(RELIABILITY_RESULTS)
	CODERUN_RELIABILITY_RESULTS=$(abspath $(RELIABILITY_RESULTS)) $(BIN)/pytest -q -ra tests/reliability $(PYTEST_ARGS)
	$(BIN)/python -m tests.reliability.report $(RELIABILITY_RESULTS) docs/reliability.md

# Every benchmark (bench/, `python -m bench`), docs/benchmarks.md rewritten.
bench: deps bytecode test-os-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

# The chart alone: install and upgrade to a first result on the test cluster (docs/benchmarks.md).
bench-helm: deps test-os-deps
	$(BIN)/python -m bench --only helm

# Rebuild the dashboard/playground bundle (api/web -> api/coderun_api/static, committed).
web:
	cd api/web && npm ci --no-audit --no-fund && npm run build

# The API's OpenAPI document as the clients know it (clients/openapi.json), and the Python
# models and TypeScript types generated from it; tests/clients/test_openapi_drift.py fails until this is run after
# an API change (docs/clients.md).
clients-openapi: | $(VENV)/.installed
	$(BIN)/python -m tests.clients.openapi_snapshot
	$(BIN)/python clients/python/generate.py
	cd clients/typescript && npm ci --no-audit --no-fund && npm run generate

# The CRD, generated from the shared contract, and the chart's copy of it (a copy, not a
# symbolic link: helm warns about links on every command). tests/helm/test_chart.py holds the
# two equal.
crds: | $(VENV)/.installed
	$(BIN)/python -m coderun_operator.crd > crds/coderun.dev_coderuns.yaml
	$(BIN)/python -m coderun_operator.crd pools > crds/coderun.dev_coderunpools.yaml
	cp crds/coderun.dev_coderuns.yaml crds/coderun.dev_coderunpools.yaml helm/coderun/crds/

# Start the test cluster (hack/cluster/cluster.sh up; built from source the first time).
cluster-up: test-os-deps
	bash hack/cluster/cluster.sh up

# Stop the test cluster's processes; its data stays for the next cluster-up.
cluster-down:
	bash hack/cluster/cluster.sh down

# Build the images and load them into the test cluster's node (as `images`).
cluster-images: test-os-deps
	bash hack/cluster/cluster.sh images

# Build sandbox-images/Dockerfile (once per language) and ./Dockerfile and load them into the
# test cluster's node.
images: cluster-images

# A kind cluster with the images loaded, where Docker can pull (hack/cluster/kind-up.sh).
kind-up:
	bash hack/cluster/kind-up.sh

# Remove the .venv and the tools' caches.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# This list: every target with the first sentence of the comment above it.
help:
	@awk '/^#/ {l = $$0; sub(/^# ?/, "", l); d = d (d == "" ? "" : " ") l; next} \
	  /^[A-Z_]+ *[:?]?=/ {next} \
	  /^[a-z][a-z0-9-]*:([^=]|$$)/ {if (d != "") {t = $$0; sub(/:.*/, "", t); \
	    i = index(d, ". "); printf "  %-16s %s\n", t, (i ? substr(d, 1, i) : d)} d = ""; next} \
	  {d = ""}' $(firstword $(MAKEFILE_LIST))
