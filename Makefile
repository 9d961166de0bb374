# Two set-up commands: `make demo` and `make test`. Everything they need, they install.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs install clean

# --no-deps: the lock is complete, and it overrides one stale pin (see [tool.uv] in pyproject.toml).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Builds a demo workspace from a synthetic city, ingests every department's extract and links the people.
demo: $(STAMP)
	rm -rf demo
	$(BIN)/justicelab init demo
	cd demo && ../$(BIN)/justicelab synth city data --people 20000 --years 6 --seed 1 --register
	cd demo && ../$(BIN)/justicelab ingest --all
	cd demo && ../$(BIN)/justicelab status
	cd demo && ../$(BIN)/justicelab link run

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# The standard's reference docs and JSON Schemas, generated from its YAML (never written twice).
docs: $(STAMP)
	$(BIN)/justicelab standard docs docs/standard
	$(BIN)/justicelab standard schema schemas

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
