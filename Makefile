# Podium developer entry points. Needs only make and Python 3.11 (with venv/ensurepip).
#   make run ARGS='--port 9000'     make test PYTEST_ARGS='-k redis'     make bench QUICK=1

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Prefer the exact version the project targets; plain python3 must still be >= 3.11
# (pip refuses to install otherwise, with a clear requires-python message).
ifndef PYTHON
PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
endif

.DEFAULT_GOAL := help

.PHONY: help venv ui run test lint typecheck bench chaos clean

help:
	@echo "make venv       create $(VENV) and install podium with test extras"
	@echo "make ui         build the web UI (gateway/ui, npm) into gateway/ui/dist"
	@echo "make run        start a local node: $(BIN)/podium up \$$(ARGS)"
	@echo "make test       lint + typecheck + pytest (\$$(PYTEST_ARGS))"
	@echo "make lint       ruff check"
	@echo "make typecheck  mypy"
	@echo "make bench      benchmarks (QUICK=1 for a short run)"
	@echo "make chaos      kill processes under load and judge what was lost (QUICK=1: about a minute; make test runs it)"
	@echo "make clean      remove $(VENV), .podium (local Redis data!) and caches"

venv: $(STAMP)

# A file target so the (slow) install reruns only when dependencies change.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3.11-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

# The web UI (gateway/ui): npm ci when the lock file changes, a build when any source does.
UI       := gateway/ui
UI_DEPS  := $(UI)/node_modules/.package-lock.json
UI_BUILT := $(UI)/dist/index.html
UI_SRC   := $(shell find $(UI)/src -type f 2>/dev/null) $(addprefix $(UI)/,package.json index.html vite.config.ts tsconfig.json)

ui: $(UI_BUILT)

$(UI_DEPS): $(UI)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is needed to build the UI (gateway/ui); install Node.js 20+" >&2; exit 1; }
	cd $(UI) && npm ci --no-audit --no-fund
	touch $@

$(UI_BUILT): $(UI_DEPS) $(UI_SRC)
	cd $(UI) && npm run build

run: $(STAMP) ui
	$(BIN)/podium up $(ARGS)

# lint and typecheck are prerequisites so a style or type error fails fast, before
# the (slower) integration tests start Redis and Ray.
# Then the quick chaos run (about a minute: faults under load, nothing may be lost;
# docs/reliability.md); CHAOS=0 leaves it out, as does a PYTEST_ARGS selection.
CHAOS ?= $(if $(PYTEST_ARGS),0,1)
test: $(STAMP) ui lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)
	$(if $(filter 1,$(CHAOS)),$(BIN)/python -m chaos --quick,)

chaos: $(STAMP)
	$(BIN)/python -m chaos $(if $(QUICK),--quick,)

lint: $(STAMP)
	$(BIN)/ruff check .

# The pure state machine and the DSL are held to mypy --strict as well.
typecheck: $(STAMP)
	$(BIN)/mypy definitions actors cluster gateway chaos bench
	$(BIN)/mypy --strict definitions actors/workflow

BENCH_STAMP := $(VENV)/.bench-installed

# The peers (Celery, Prefect) and profilers live in the bench extra, so `make test` stays lean.
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .podium .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info $(UI)/node_modules $(UI)/dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
