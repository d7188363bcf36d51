# Ingot: `make demo` runs the all-in-one demo, `make test` installs what is needed and runs the checks.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-vm lint typecheck unit install clean bench

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

# The QEMU VM tier (root): Debian packages, the deploy ramdisk (rebuilt only when its inputs
# change; cached by content in ~/.cache/ingot/ramdisk), then 2 VMs (BIOS, UEFI) deployed end to
# end (docs/real-machines.md). INGOT_VM_REQUIRED turns "cannot run here" into a failure.
VM_RAMDISK ?= /var/tmp/ingot-ramdisk
test-vm: $(STAMP)
	bash scripts/vm-tier-deps.sh
	$(BIN)/ingot ramdisk build -o $(VM_RAMDISK)
	INGOT_VM_RAMDISK=$(VM_RAMDISK) INGOT_VM_REQUIRED=1 $(BIN)/pytest -q -s -p no:cacheprovider \
		tests/e2e/test_qemu_deploy.py

bench: $(STAMP)
	$(BIN)/python bench/api_lifecycle.py --start-ingot --nodes 1000 --concurrency 16
	$(BIN)/python bench/image_stream.py --size-mib 512 --repeat 1

demo: $(STAMP)
	$(BIN)/python -m ingot.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
