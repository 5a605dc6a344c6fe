# Two commands matter: `make demo` (three nodes on SQLite, no services) and `make test` (the full suite;
# with CI=true on PostgreSQL and Redis). Everything else is a helper for developers and CI.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv must never fetch a Python build of its own: the machine's Python 3.12 (pyenv / .python-version) is used.
export UV_PYTHON_DOWNLOADS := never

# `uv` when it answers, else the module of a pip-installed uv. Recursive (=): evaluated after `uv` installed it.
UV = $(shell uv --version >/dev/null 2>&1 && echo uv || echo python3 -m uv)
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
PYTEST_ARGS ?=

# CI=true (the runner sets it): the suite runs on PostgreSQL and Redis and the integration tests must pass.
CI_ON := $(filter true TRUE True 1 yes,$(CI))
CI_DATABASE_URL := postgresql://postgres@127.0.0.1:5432/healthcard
CI_BROKER_URL := redis://127.0.0.1:6379/0
CI_CACHE_URL := redis://127.0.0.1:6379/1

.PHONY: help uv deps demo test lint migrations-check bench clean

help:
	@echo "make demo              three nodes (ministry 100000, province 610000, city 610100) on 127.0.0.1:8001-8003"
	@echo "make test              the full test suite on SQLite; CI=true make test: on PostgreSQL + Redis"
	@echo "make lint              ruff check + ruff format --check"
	@echo "make migrations-check  fail when a model change has no migration"
	@echo "make bench             benchmarks under tests/bench"
	@echo "make clean             remove test and bench state and caches (keeps var/node keys and var/demo)"

# uv itself: pip-installed into the current python3 when missing (pyenv needs a rehash to see it).
uv:
	@if ! uv --version >/dev/null 2>&1; then \
		echo "installing uv"; \
		python3 -m pip install --quiet uv 2>/dev/null \
			|| python3 -m pip install --quiet --break-system-packages uv; \
		if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi; \
	fi

# The locked dependencies, and the CJK font printed PDFs embed (Debian's fonts-wqy-microhei).
deps: uv
	@if [ ! -e $(CJK_FONT) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; \
		else \
			echo "note: $(CJK_FONT) is missing; install fonts-wqy-microhei (as root) for PDF printing" >&2; \
		fi; \
	fi
	$(UV) sync --frozen

demo: deps
	$(UV) run python scripts/demo.py

# Collation C for the databases this project creates (deploy/postgres-init/01-databases.sql says why).
PG_CREATE_OPTIONS = TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'
# Shell: create $$DATABASE_URL's database when psql is here and the database is not.
PG_CREATE_DB = if command -v psql >/dev/null 2>&1 && ! psql "$$DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1; then \
		name="$${DATABASE_URL\#\#*/}"; name="$${name%%\?*}"; \
		psql "$${DATABASE_URL%/*}/postgres" -Atqc "CREATE DATABASE \"$$name\" $(PG_CREATE_OPTIONS)" >/dev/null 2>&1 \
			|| echo "note: could not create database $$name (the next step will say why)" >&2; \
	fi;

ifneq ($(CI_ON),)
# PostgreSQL + Redis. pytest-django creates (and drops) test_<name> itself, connecting to the `postgres`
# database for that; the named database is created too when psql is here, for manage.py use by hand.
test: deps
	@export DATABASE_URL="$${DATABASE_URL:-$(CI_DATABASE_URL)}" \
		CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(CI_BROKER_URL)}" \
		HC_VAR_DIR="$${HC_VAR_DIR:-var/test}"; \
	$(PG_CREATE_DB) \
	echo "tests on PostgreSQL $${DATABASE_URL##*@} and Redis $${CELERY_BROKER_URL##*@}"; \
	$(UV) run pytest -q -p no:cacheprovider $(PYTEST_ARGS)
else
# SQLite (pytest-django uses an in-memory test database), tasks run in-process: no services needed.
test: deps
	@mkdir -p var/test
	env -u DATABASE_URL -u CELERY_BROKER_URL HC_VAR_DIR=var/test \
		$(UV) run pytest -q -p no:cacheprovider $(PYTEST_ARGS)
endif

lint: deps
	$(UV) run ruff check .
	$(UV) run ruff format --check .

migrations-check: deps
	HC_VAR_DIR=var/test $(UV) run python manage.py makemigrations --check --dry-run

# Benchmarks (DESIGN.md §8): tests/bench/run_all.py calls each tests/bench/bench_*.py's main several times at
# BENCH_SCALE cards (default 1,000,000; 10,000,000 is the documented option) and writes docs/performance.md and
# docs/performance.json. On PostgreSQL + Redis (the CI services) unless DATABASE_URL says otherwise; the shared
# cache is Redis as in production (CACHE_URL), so the card check's nonces and rate counts are shared by every
# gunicorn worker (a per-process cache would measure neither the claim nor replay protection).
BENCH_SCALE ?= 1000000
BENCH_RUNS ?= 3
bench: deps
	@export DATABASE_URL="$${DATABASE_URL:-$(CI_DATABASE_URL)}" \
		CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(CI_BROKER_URL)}" \
		CACHE_URL="$${CACHE_URL:-$(CI_CACHE_URL)}" \
		HC_VAR_DIR="$${HC_VAR_DIR:-var/bench}"; mkdir -p "$$HC_VAR_DIR"; \
	$(PG_CREATE_DB) \
	$(UV) run python manage.py migrate --no-input -v 0 || exit 1; \
	$(UV) run python tests/bench/run_all.py --scale $(BENCH_SCALE) --runs $(BENCH_RUNS)

clean:
	rm -rf var/test var/bench var/static .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
