# Two commands do everything: `make test` and `make run`. Both are idempotent and set up
# what is missing on a Debian machine: the venv, PostGIS, PostgreSQL, Redis and the database.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DB_NAME ?= trackersite
PG_URL ?= postgresql://postgres@127.0.0.1:5432
export DATABASE_URL ?= postgis://postgres@127.0.0.1:5432/$(DB_NAME)
REDIS_PORT ?= 6379
export REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
SIMULATOR_PORT ?= 8765
WEB_PORT ?= 8000

# Root runs apt directly; anyone else needs sudo, or is told the exact command to run.
SUDO := $(shell if [ "$$(id -u)" = 0 ]; then echo ""; elif command -v sudo >/dev/null; then echo sudo; else echo NONE; fi)

.PHONY: help setup venv services browser database migrate test drills lint run compose-check clean-venv

help:
	@echo "make test   set everything up, then run ruff, checks and the test suite"
	@echo "make run    set everything up, load demo data, start web + worker + beat + simulator"
	@echo "make drills the fault drills at full length (the outage lasts DRILL_OUTAGE_SECONDS=300)"
	@echo "make bench  run every benchmark against its own database and print the ratios"
	@echo "make audit  check the locked Python packages for known vulnerabilities"

setup: venv services database

venv: $(VENV)/.installed

# requirements.lock pins every package (direct and indirect) to the versions last tested;
# `make lock` writes it anew from the venv after pyproject.toml changed.
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python packages into $(VENV)"
	@$(PY) -m pip install --disable-pip-version-check --upgrade pip > $(VENV)/pip.log 2>&1 \
	  && $(PY) -m pip install --disable-pip-version-check -c requirements.lock -e '.[dev]' \
	     >> $(VENV)/pip.log 2>&1 \
	  || { tail -40 $(VENV)/pip.log; echo "pip install failed (log: $(VENV)/pip.log)"; exit 1; }
	@touch $@

define apt_install
	if [ "$(SUDO)" = NONE ]; then \
	  echo "Missing system packages. Run this as root, then run make again:"; \
	  echo "  apt-get update && apt-get install -y $(1)"; exit 1; \
	fi; \
	echo "==> apt-get install $(1)"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null
endef

services:
	@# PostgreSQL: install when absent, start when installed but stopped.
	@if ! command -v pg_isready >/dev/null; then $(call apt_install,postgresql postgresql-client); fi
	@if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "==> starting PostgreSQL"; \
	  for v in $$(ls /etc/postgresql 2>/dev/null); do \
	    $(subst NONE,,$(SUDO)) pg_ctlcluster --skip-systemctl-redirect $$v main start || true; done; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }; \
	fi
	@# PostGIS for the server's major version.
	@if [ -z "$$(psql '$(PG_URL)/postgres' -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")" ]; then \
	  major=$$(psql '$(PG_URL)/postgres' -tAc "SHOW server_version_num" | cut -c1-2); \
	  $(call apt_install,postgresql-$$major-postgis-3); \
	fi
	@# Redis: install when absent, start when stopped.
	@if ! command -v redis-server >/dev/null; then $(call apt_install,redis-server); fi
	@if ! redis-cli -u '$(REDIS_URL)' ping >/dev/null 2>&1; then \
	  echo "==> starting Redis"; \
	  mkdir -p /tmp/trackersite-redis-$(REDIS_PORT); \
	  redis-server --daemonize yes --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no \
	    --dir /tmp/trackersite-redis-$(REDIS_PORT) --logfile /tmp/trackersite-redis-$(REDIS_PORT)/redis.log; \
	  for i in $$(seq 1 20); do redis-cli -u '$(REDIS_URL)' ping >/dev/null 2>&1 && break; sleep 0.5; done; \
	  redis-cli -u '$(REDIS_URL)' ping >/dev/null || { echo "Redis is not reachable at $(REDIS_URL)"; exit 1; }; \
	fi

# Headless Chromium for the browser tests (tests/browser), driven by Playwright's Python package
# with executable_path=/usr/bin/chromium: Debian's build, never a downloaded one.
browser:
	@if [ ! -x /usr/bin/chromium ]; then $(call apt_install,chromium); fi

database: services
	@if [ -z "$$(psql '$(PG_URL)/postgres' -tAc "SELECT 1 FROM pg_database WHERE datname = '$(DB_NAME)'")" ]; then \
	  echo "==> creating database $(DB_NAME)"; createdb -h 127.0.0.1 -U postgres $(DB_NAME); fi
	@psql -q '$(PG_URL)/$(DB_NAME)' -c "CREATE EXTENSION IF NOT EXISTS postgis" 2>&1 | grep -v "already exists" || true

migrate: setup
	$(PY) manage.py migrate --noinput

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

compose-check:
	@if command -v docker-compose >/dev/null; then \
	  echo "==> docker-compose config -q"; \
	  SECRET_KEY=compose-validation SECRETS_ENCRYPTION_KEY=compose-validation \
	    docker-compose config -q; \
	else echo "(docker-compose not installed: skipping compose validation)"; fi

test: setup browser lint compose-check
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	@# The partner API's OpenAPI schema: generated and validated; a warning fails the build.
	@mkdir -p var
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml
	DJANGO_SETTINGS_MODULE=trackersite.settings.test $(VENV)/bin/pytest

# The fault drills (tests/drills) with real processes: worker, beat, a Redis server of their own,
# the simulator. `make test` runs them too, with a 5-second outage; here it lasts 5 minutes.
DRILL_OUTAGE_SECONDS ?= 300
drills: setup
	DJANGO_SETTINGS_MODULE=trackersite.settings.test DRILL_OUTAGE_SECONDS=$(DRILL_OUTAGE_SECONDS) \
	  $(VENV)/bin/pytest -m drill tests/drills -p no:cacheprovider

run: migrate
	$(PY) manage.py install_schedules
	$(PY) manage.py load_cities
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Portal       http://127.0.0.1:$(WEB_PORT)/"
	@echo "  Admin        http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  Health       http://127.0.0.1:$(WEB_PORT)/healthz"
	@echo "  Simulator    http://127.0.0.1:$(SIMULATOR_PORT)/ (FindMy, Apple login, anisette)"
	@echo "  The simulator logs the Apple account 'demo' in through the login client."
	@echo "  Logins are printed by seed_demo above. Ctrl-C stops everything."
	@echo ""
	@# The demo asks for each tracker every 2 minutes so the map moves while someone watches;
	@# production keeps the 30-minute default that Apple tolerates.
	WEB_PORT=$(WEB_PORT) SIMULATOR_PORT=$(SIMULATOR_PORT) \
	FINDMY_FETCH_INTERVAL_MINUTES=2 FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS=1 \
	FINDMY_FETCH_URL=http://127.0.0.1:$(SIMULATOR_PORT)/findmyservice/v2/fetch \
	ANISETTE_URL=http://127.0.0.1:$(SIMULATOR_PORT)/ \
	APPLE_GSA_URL=http://127.0.0.1:$(SIMULATOR_PORT) APPLE_SETUP_URL=http://127.0.0.1:$(SIMULATOR_PORT) \
	  $(VENV)/bin/honcho start -f Procfile

# Every bench/*.py against a database of its own (bench_NAME), then one table of ratios.
# BENCHES="keys decrypt" runs only those.
bench: setup
	$(PY) bench/_run_all.py $(BENCHES)

lock: venv
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | sort -f > requirements.lock
	@echo "==> requirements.lock: $$(wc -l < requirements.lock) packages"

# Known vulnerabilities in the locked packages (asks PyPI's advisory data; installs nothing).
audit: venv
	$(VENV)/bin/pip-audit --requirement requirements.lock --no-deps --disable-pip --strict --progress-spinner off

clean-venv:
	rm -rf $(VENV)
