# lienthong — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo serve test test-sqlite test-pg lint check-migrations browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install lienthong with its dev tools

demo: install  ## migrate and seed ./var/lienthong.db, then serve on http://127.0.0.1:$${LIENTHONG_PORT:-8000}
	$(BIN)/lienthong demo

serve: install
	$(BIN)/lienthong serve

test: install  ## the whole suite: SQLite, then PostgreSQL when a server answers; browser tests in Chromium
	@scripts/ensure-browser
	@scripts/ensure-debian-packages
	$(MAKE) --no-print-directory test-sqlite
	@if scripts/pg-available; then $(MAKE) --no-print-directory test-pg; \
	else echo "PostgreSQL is not reachable at $${LIENTHONG_TEST_PG_URL:-127.0.0.1:5432}: PostgreSQL pass not run"; \
	     test "$${LIENTHONG_REQUIRE_PG:-0}" != 1; fi

test-sqlite: install
	@echo "== tests on SQLite =="
	LIENTHONG_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-pg: install
	@echo "== tests on PostgreSQL (throwaway database) =="
	LIENTHONG_TEST_DB=postgresql $(BIN)/pytest $(PYTEST_ARGS)

lint: install  ## ruff, formatting and strict mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

check-migrations: install  ## models and migrations agree (on a fresh SQLite file)
	rm -f var/check-migrations.db
	LIENTHONG_DATABASE_URL=sqlite:///var/check-migrations.db $(BIN)/lienthong db upgrade
	LIENTHONG_DATABASE_URL=sqlite:///var/check-migrations.db $(BIN)/lienthong db check
	rm -f var/check-migrations.db

browser:  ## install Debian's Chromium for the browser tests (root)
	apt-get update -qq && apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) var test-results .pytest_cache .mypy_cache .ruff_cache
