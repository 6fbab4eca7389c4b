# The commands the README names. Everything installs into .venv from pyproject.toml's pins.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

export OMNI_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME := $(CURDIR)
export OMNI_DAGSTER_STORAGE ?= $(OMNI_DATA_DIR)/dagster
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo test lint ui clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install ## the whole pipeline on the sandbox, last 30 China days
	mkdir -p $(OMNI_DAGSTER_STORAGE)
	$(BIN)/omni demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# two workers: the suite is mostly single-threaded Python waiting on itself over loopback. worksteal:
# a worker that runs out takes tests queued on the other (with `load`, one worker's queue of long
# tests ran alone for 7 of the suite's 15 minutes while the other sat idle)
test: install lint ## lint, type-check, then the whole test suite
	$(BIN)/pytest -n 2 --dist worksteal --durations=15

# exec: on SIGTERM make signals the UI process itself (a shell in between would not pass it on)
ui: install ## Dagster UI on http://127.0.0.1:3000 against the sandbox
	mkdir -p $(OMNI_DAGSTER_STORAGE)
	PATH=$(CURDIR)/$(BIN):$$PATH exec $(BIN)/python -m pipelines.ui

clean:
	rm -rf $(OMNI_DATA_DIR)
