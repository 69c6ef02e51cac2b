# Two commands do all set-up: `make run` starts the bots, `make test` runs the whole suite.
# Each builds .venv first; torch 2.13.0 goes in before the project so pip takes the CPU wheel
# where one is at hand instead of a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# What the bots need (the local model), and what the suite tests on top of it: the dev tools,
# Ray Serve (`serve --ray`) and ONNX Runtime (the onnx backends).
RUN_EXTRAS ?= model
TEST_EXTRAS ?= model,dev,ray,onnx

.PHONY: run test lint install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(RUN_EXTRAS)]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(TEST_EXTRAS)]"
	touch $@

install: $(VENV)/.run-installed
install-test: $(VENV)/.test-installed

run: install
	$(BIN)/deepguard run

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check core bots config api tests bench
	$(BIN)/ruff format --check core bots config api tests bench
	$(BIN)/mypy core bots config api tests bench
