# Two commands do all set-up: `make run` starts the bots, `make test` runs the whole suite.
# Each builds .venv first; torch 2.13.0 goes in before the project so pip takes the CPU wheel
# where one is at hand instead of a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# The model plus the optional parts the suite tests too: Ray Serve (`serve --ray`), ONNX Runtime.
EXTRAS ?= model,dev,ray,onnx

.PHONY: run test lint install

$(BIN)/deepguard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

install: $(BIN)/deepguard

run: install
	$(BIN)/deepguard run

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check core bots config tests bench
	$(BIN)/mypy core bots config
