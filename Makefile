# Ingot: `make demo` runs the all-in-one demo, `make test` installs what is needed and runs the checks.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install clean bench

$(STAMP): pyproject.toml agent/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]' -e agent
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench agent
	$(BIN)/ruff format --check src tests bench agent

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	bash scripts/test-deps.sh
	$(MAKE) lint typecheck
	$(BIN)/mypy --strict agent/src
	bash scripts/with-postgres.sh $(BIN)/pytest -q tests
	cd agent && ../$(BIN)/pytest -q -p no:cacheprovider tests

bench: $(STAMP)
	$(BIN)/python bench/api_lifecycle.py --start-ingot --nodes 1000 --concurrency 16
	$(BIN)/python bench/image_stream.py --size-mib 512 --repeat 1

demo: $(STAMP)
	$(BIN)/python -m ingot.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
