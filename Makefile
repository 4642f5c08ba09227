# Huiyuan: the front door. `make run` serves the API locally, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
# checkov pins boto3 and packaging versions requirements-dev.txt cannot share: its own venv.
CHECKOV_VENV := .venv-checkov
# make mutation's own venv (mutmut and what the unit tests import).
MUTATION_VENV := .venv-mutation

# Lambda runs python3.13 and `chalice package` targets the interpreter it runs
# under, so everything here runs on 3.13: found on PATH, under pyenv, or in
# the usual places; `make PYTHON=/path/to/python3.13` overrides.
PYTHON313 := $(shell for p in "$(PYTHON)" python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	[ -n "$$p" ] && command -v "$$p" >/dev/null 2>&1 && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)

.PHONY: help venv checkov-venv mutation-venv web web-check run reset demo test lint typecheck format bench soak mutation clean job synth scan deploy diff

help:
	@echo "make run     serve the API on http://127.0.0.1:$(PORT) over an embedded local AWS endpoint (keeps its data in .local/)"
	@echo "make reset   forget the local stack's data: the next make run starts empty"
	@echo "make demo    [MEMBERS=300] [SEED=1]: a café chain's members and few months in the running stack (idempotent)"
	@echo "make test    set everything up and run the whole suite"
	@echo "make web     build the member web app (web/ -> web/dist, served at /app/); make run and make test do it"
	@echo "make mutation  mutmut over chalicelib/domain against the unit tests: the share of mutants killed per module (docs/quality.md) [MODULE=points]"
	@echo "make bench   DynamoDB round trips and cost per request, purchases/s through the local stack, cold start, package size, jobs at scale [JOB_SIZES=2000,20000]"
	@echo "make soak    [SOAK_SECONDS=600] [SOAK_CLIENTS=4]: mixed traffic through a fresh local stack, jobs in the middle, then the books and the stack's memory (docs/soak.json)"
	@echo "make job     JOB=<name> AS_OF=YYYY-MM-DD: run a scheduled job against the running stack, as the schedule would on that date (any date)"
	@echo "make lint    ruff (lint and format); make typecheck: mypy strict (both run in make test)"
	@echo "make synth   CloudFormation for every stage into infra/cdk.out (offline; cdk-nag checked)"
	@echo "make scan    checkov over every stage's synthesized template (also part of make test)"
	@echo "make deploy  STAGE=dev|prod: deploy one stage with the cdk CLI (AWS credentials needed)"

$(VENV)/.installed: requirements.txt requirements-dev.txt infra/requirements.txt docs/ui/package.json
	@if [ -z "$(PYTHON313)" ]; then echo "Python 3.13 not found: install it (e.g. pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; fi
	@[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(VENV); "$(PYTHON313)" -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2> >(grep -v '^WARNING: Location' >&2)
	@if command -v npm >/dev/null 2>&1; then npm install --prefix docs/ui --no-audit --no-fund --silent; \
	else echo "npm not found: the local /docs page will have no assets" >&2; fi
	@touch $@

venv: $(VENV)/.installed

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt
	@if [ -z "$(PYTHON313)" ]; then echo "Python 3.13 not found: install it (e.g. pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; fi
	@[ -x $(CHECKOV_VENV)/bin/python ] || "$(PYTHON313)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt 2> >(grep -v '^WARNING: Location' >&2)
	@touch $@

checkov-venv: $(CHECKOV_VENV)/.installed

# mutmut, pinned in requirements-mutation.txt, in its own venv: .venv may be shared between work trees.
$(MUTATION_VENV)/.installed: requirements-mutation.txt requirements.txt requirements-dev.txt infra/requirements.txt
	@if [ -z "$(PYTHON313)" ]; then echo "Python 3.13 not found: install it (e.g. pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; fi
	@[ -x $(MUTATION_VENV)/bin/python ] && $(MUTATION_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(MUTATION_VENV); "$(PYTHON313)" -m venv $(MUTATION_VENV); }
	$(MUTATION_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-mutation.txt 2> >(grep -v '^WARNING: Location' >&2)
	@touch $@

mutation-venv: $(MUTATION_VENV)/.installed

# The member web app (web/, docs/web.md): Vue and Vant from the npm registry (`npm ci`, the lockfile),
# built by Vite into web/dist when its sources or the lockfile change. Vite needs Node.js 20.19+ or 22.12+.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
NODE_OK := command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'

web/node_modules/.installed: web/package.json web/package-lock.json
	@$(NODE_OK) || { echo "The member web app (web/) needs Node.js 20.19+ (or 22.12+) with npm to build; found: $$(node --version 2>/dev/null || echo 'no node') / $$(npm --version 2>/dev/null || echo 'no npm'). Install them (e.g. apt-get install nodejs npm) and run make again." >&2; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	npm run --prefix web --silent build

web: web/dist/index.html

# The app's own logic (vitest) and its types (vue-tsc), in make test.
web-check: web/node_modules/.installed
	npm run --prefix web --silent typecheck
	npm run --prefix web --silent test

run: venv web
	$(PY) -m localstage.stack --port $(PORT)

# The data `make run` keeps in .local/aws/ (and the outbox); refused while the stack runs.
reset: venv
	$(PY) -m localstage.stack --reset

# A café chain's members and their few months, made in the running stack through its HTTP API
# (devtools/demo); idempotent: run it again and nothing is made twice. `make run` first.
MEMBERS ?= 300
SEED ?= 1
demo: venv
	$(PY) -m devtools.demo --members $(MEMBERS) --seed $(SEED)

# Lint and types first (a minute or two), then the suite on two workers (this machine has two cores;
# each worker starts its own local stack for the e2e tests), a test module per unit of work, the
# longest modules first (tests/conftest.py, docs/quality.md). Every test's time lands in .local/test-times.xml.
test: lint typecheck checkov-venv web-check web
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25 --junitxml=.local/test-times.xml

lint: venv
	$(PY) -m ruff check app.py chalicelib localstage devtools infra tests
	$(PY) -m ruff format --check app.py chalicelib localstage devtools infra tests
	$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(PY) -m mypy app.py chalicelib localstage devtools infra

format: venv
	$(PY) -m ruff format app.py chalicelib localstage devtools infra tests
	$(PY) -m ruff check --fix app.py chalicelib localstage devtools infra tests

JOB_SIZES ?=
bench: venv
	$(PY) -m tests.bench.run $(if $(JOB_SIZES),--job-sizes $(JOB_SIZES))

# The soak (tests/bench/soak.py), not part of make test: SOAK_SECONDS of mixed traffic through its own
# local stack with the jobs run in the middle, then reconcile. Fails on any 5xx, drift or memory growth
# beyond what the items added explain (tests/bench/soak.py says how); writes docs/soak.json, which
# make bench renders into docs/performance.md.
SOAK_SECONDS ?= 600
SOAK_CLIENTS ?= 4
soak: venv
	$(PY) -m tests.bench.soak --seconds $(SOAK_SECONDS) --clients $(SOAK_CLIENTS)

# Mutation testing (docs/quality.md), not part of make test: about 900 mutants of chalicelib/domain,
# each against the unit tests that cover its function (~10 minutes on two busy cores). Starts from
# scratch every time (mutants/), at low priority; MODULE=points checks one module, MUTATION_WORKERS
# sets mutmut's parallel children. Fails when a module kills under 90% or a survivor is unexplained.
MODULE ?=
MUTATION_WORKERS ?= 2
mutation: mutation-venv
	rm -rf mutants
	nice -n 15 $(MUTATION_VENV)/bin/mutmut run --max-children $(MUTATION_WORKERS) $(if $(MODULE),'chalicelib.domain.$(MODULE).*')
	@echo
	$(MUTATION_VENV)/bin/python -m tests.mutation_report

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(MUTATION_VENV) mutants .local .pytest_cache .ruff_cache .hypothesis infra/cdk.out web/dist web/node_modules

JOB ?=
AS_OF ?=
CATCH_UP ?= 1
job: venv
	@[ -n "$(JOB)" ] || { echo "usage: make job JOB=<$$($(PY) -c 'from chalicelib.jobs.specs import JOBS; print("|".join(sorted(JOBS)))')> AS_OF=YYYY-MM-DD [DRY_RUN=1] [CATCH_UP=0]" >&2; exit 2; }
	$(PY) -m localstage.job '$(JOB)' $(if $(AS_OF),'$(AS_OF)') $(if $(DRY_RUN),--dry-run) $(if $(filter 0,$(CATCH_UP)),--no-catch-up)

# Infrastructure (infra/, docs/operations.md). `synth` needs no AWS account; `deploy`
# and `diff` need credentials for the stage's account and a bootstrapped region
# (`npx aws-cdk@2 bootstrap`), and fetch the cdk CLI from npm on first use.
STAGE ?= dev
CDK := npx --yes aws-cdk@2
CDK_APP := --app "$(abspath $(PY)) infra/app.py" --context stage=$(STAGE) --output infra/cdk.out

synth: venv web
	$(PY) infra/app.py

# checkov over every stage's template (and prod with the optional settings the other way round):
# fails on any finding infra/checkov_skips.py does not accept with a reason; prints the counts.
scan: venv checkov-venv web
	$(PY) -m pytest tests/infra/test_scan.py -p no:xdist -rA

diff: venv web
	$(CDK) diff $(CDK_APP) --all

deploy: venv web
	$(CDK) deploy $(CDK_APP) --all --require-approval broadening
