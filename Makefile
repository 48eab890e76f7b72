# uschina-digest — `make run` (install + one pipeline run on the defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench serve fuzz soak clean help

help:
	@echo "make run      install (first time), run the pipeline once and send the digest (outbox without SMTP)"
	@echo "make test     lint, then run the test suite"
	@echo "make lint     ruff check and ruff format --check (the settings are in pyproject.toml)"
	@echo "make install  create .venv with uv from uv.lock"
	@echo "make bench    print the benchmarks' figures"
	@echo "make serve    start a local Prefect server (if none configured) and serve the deployments"
	@echo "make soak     the long fault-injection soak (outside the default suite)"
	@echo "make fuzz     the property and fuzz tests with fresh random examples (make test replays fixed ones)"

# uv itself is bootstrapped through pip into .uv/ when it is not on PATH.
.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv

# --compile-bytecode: the environment may forbid writing .pyc at run time (PYTHONDONTWRITEBYTECODE);
# without them every process compiles what it imports (`import prefect`: 2.8 s instead of 1.3 s).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/uschina-digest run --send

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@failed=""; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "targets missed in:$$failed"; exit 1; fi

serve: $(STAMP)
	$(BIN)/python -m flows.service.local

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q tests/hardening -k "props or fuzz"

soak: $(STAMP)
	$(BIN)/python -m pytest -q -m soak tests

clean:
	rm -rf $(VENV) .uv data
