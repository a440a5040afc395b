# Two commands on a fresh machine: `make run` and `make test`. Both create or refresh .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := src tests bench

.PHONY: venv run test lint types unit demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/criptoren migrate
	$(BIN)/criptoren serve

lint: venv
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

types: venv
	$(BIN)/mypy --strict src

test: lint types
	$(BIN)/pytest

# `make demo PORT=8001` when 8000 is taken
PORT ?= 8000
demo: venv
	$(BIN)/criptoren demo --port $(PORT)

bench: venv
	$(BIN)/python bench/feed.py
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
