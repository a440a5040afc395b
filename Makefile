# Two commands on a fresh machine: `make run` and `make test`. Both create or refresh .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := src tests bench
# pytest-xdist workers (each has its own databases, ports and temp files); 0 = no workers
TEST_WORKERS ?= 2

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
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal

demo: venv
	$(BIN)/criptoren demo

bench: venv
	$(BIN)/python bench/feed.py
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
