# Huiyuan: the front door. `make run` serves the API locally, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python

# Lambda runs python3.13 and `chalice package` targets the interpreter it runs
# under, so everything here runs on 3.13: found on PATH, under pyenv, or in
# the usual places; `make PYTHON=/path/to/python3.13` overrides.
PYTHON313 := $(shell for p in "$(PYTHON)" python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	[ -n "$$p" ] && command -v "$$p" >/dev/null 2>&1 && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)

.PHONY: help venv run test lint format bench clean job

help:
	@echo "make run     serve the API on http://127.0.0.1:$(PORT) over an embedded local AWS endpoint"
	@echo "make test    set everything up and run the whole suite"
	@echo "make bench   DynamoDB round trips per request, cold start, package size, jobs at scale [JOB_SIZES=1000,10000]"
	@echo "make job     JOB=<name> AS_OF=YYYY-MM-DD: run a scheduled job once against the running stack"
	@echo "make lint    ruff"

$(VENV)/.installed: requirements.txt requirements-dev.txt docs/ui/package.json
	@if [ -z "$(PYTHON313)" ]; then echo "Python 3.13 not found: install it (e.g. pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; fi
	@[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(VENV); "$(PYTHON313)" -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2> >(grep -v '^WARNING: Location' >&2)
	@if command -v npm >/dev/null 2>&1; then npm install --prefix docs/ui --no-audit --no-fund --silent; \
	else echo "npm not found: the local /docs page will have no assets" >&2; fi
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m chalicelib.local.stack --port $(PORT)

test: venv
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check app.py chalicelib tests
	$(PY) -m ruff format --check app.py chalicelib tests

format: venv
	$(PY) -m ruff format app.py chalicelib tests
	$(PY) -m ruff check --fix app.py chalicelib tests

JOB_SIZES ?=
bench: venv
	$(PY) -m tests.bench.run $(if $(JOB_SIZES),--job-sizes $(JOB_SIZES))

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache .hypothesis

JOB ?=
AS_OF ?=
job: venv
	@[ -n "$(JOB)" ] || { echo "usage: make job JOB=<expire-points|birthday-bonus|reengagement|tier-review|send-deferred> AS_OF=YYYY-MM-DD [DRY_RUN=1]" >&2; exit 2; }
	$(PY) -m chalicelib.jobs $(JOB) $(AS_OF) $(if $(DRY_RUN),--dry-run)
