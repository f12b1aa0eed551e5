# clerk-sync: every target installs what it needs from the lockfile; nothing global is assumed.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
PYTEST := $(BIN)/pytest -p no:cacheprovider

.DEFAULT_GOAL := help
.PHONY: help install run demo test unit integration properties contract emulator service api e2e faults infra lint \
	format openapi synth layer bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras --quiet
	@touch $@

install: $(BIN)/.installed ## create .venv from uv.lock (runtime, local tooling and dev tools)

run: install ## the whole product locally: API, authorizer, webhooks, queue, worker, table, Clerk emulator
	$(BIN)/clerk-sync local up

demo: install ## a scripted tour on a fresh local stack, ending with a check against Clerk's state
	$(BIN)/clerk-sync demo

test: install ## every test tier and the linters
	$(MAKE) --no-print-directory lint
	$(PYTEST) -n 2 tests

unit: install ## unit tier: no sockets, no AWS
	$(PYTEST) tests/unit

integration: install ## integration tier: moto in-process
	$(PYTEST) tests/integration

properties: install ## Hypothesis properties of the invariants
	$(PYTEST) tests/properties

contract: install ## emulator responses against Clerk's OpenAPI spec
	$(PYTEST) tests/contract

emulator: install ## the Clerk emulator
	$(PYTEST) tests/emulator

service: install ## SyncService against the Clerk emulator over HTTP and moto
	$(PYTEST) -n 2 tests/service

api: install ## authorizer and sync routes through the gateway pipeline, incl. fuzzing from the OpenAPI document
	$(PYTEST) -n 2 tests/api

e2e: install ## end-to-end tier: the local stack over HTTP
	$(PYTEST) tests/e2e

faults: install ## fault tier: Clerk, DynamoDB, SQS and worker faults, each ending equal to Clerk with nothing lost
	$(PYTEST) -n 2 tests/faults

infra: install ## CDK assertions, cdk-nag and cfn-lint on the synthesized stacks
	$(PYTEST) tests/infra

lint: install ## ruff, and mypy strict on the runtime code, local tooling and the bench baseline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions/clerk_sync local/clerk_sync_local infra app.py bench

openapi: install ## regenerate docs/openapi.json from the routes' code
	$(BIN)/python -c "from clerk_sync.api.sync_routes import openapi_document; print(openapi_document())" > docs/openapi.json

BENCH_ARGS ?=
bench: install ## measure against the baseline, write bench/results/report.md; BENCH_ARGS="--events 2000" scales it
	$(BIN)/clerk-sync bench all $(BENCH_ARGS)

SOAK_ARGS ?=
soak: install ## long soak (not in make test): random histories under 20% faults, compared with Clerk; SOAK_ARGS=--help
	$(BIN)/clerk-sync soak $(SOAK_ARGS)

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

layer: ## build the arm64 dependency layer into layers/build (no-op when up to date)
	$(PYTHON) layers/build.py

synth: install layer ## synthesize STAGE (default dev) into cdk.out/, offline, cdk-nag included
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"stage":"$(STAGE)"}' $(BIN)/python app.py

clean: ## remove environments and build output
	rm -rf $(VENV) $(TOOLS) cdk.out layers/build .pytest_cache .mypy_cache .ruff_cache .hypothesis
