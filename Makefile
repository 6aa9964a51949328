# tradesim developer commands. `make test` is the one test command: it builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test unit integration lint type cov tox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## a simulated day of the whole system: beat, tasks, 20 bots; no services needed
	$(BIN)/tradesim demo

test: $(STAMP)  ## the whole suite: unit and integration tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest --ignore=tests/integration $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check tradesim tests benchmarks
	$(BIN)/ruff format --check tradesim tests benchmarks
	$(BIN)/lint-imports

type: $(STAMP)
	$(BIN)/mypy tradesim

cov: $(STAMP)  ## unit tests under coverage: integration tests run our code in subprocesses
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest --ignore=tests/integration $(PYTEST_ARGS)
	$(BIN)/coverage report

# pyenv's shims answer only for the selected version: hand tox every installed interpreter.
PYENV_PYTHONS := $(wildcard $(HOME)/.pyenv/versions/3.1*/bin/python3)
TOX_DISCOVER := $(if $(PYENV_PYTHONS),--discover $(PYENV_PYTHONS),)

# py311 is left out: `make test` (the whole suite) and cov (the unit tests) both run on it already.
tox: $(STAMP)  ## CI's matrix: the oldest Python, lint, type, and cov on the newest (make test covers 3.11)
	$(BIN)/tox run -e py310,lint,type,cov $(TOX_DISCOVER)

clean:
	rm -rf $(VENV) .tox .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov build *.egg-info
