# Two commands on a fresh machine: `make run` and `make test`. Both create or refresh .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := src tests bench
# pytest-xdist workers (each has its own databases, ports and temp files); 0 = no workers
TEST_WORKERS ?= 2

.PHONY: venv run test lint types unit demo bench clean docs-assets

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

# `make demo PORT=8001` when 8000 is taken
PORT ?= 8000
demo: venv
	$(BIN)/criptoren demo --port $(PORT)

bench: venv
	$(BIN)/python bench/feed.py
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

# Swagger UI and ReDoc for /docs and /redoc, committed so they work offline and `make run`
# needs no node: this refreshes them from the versions pinned in the lockfile beside them.
DOCS_STATIC := src/criptoren/api/static
DOCS_BUILD := $(or $(TMPDIR),/tmp)/criptoren-docs-assets
docs-assets:
	rm -rf $(DOCS_BUILD) && mkdir -p $(DOCS_BUILD)
	cp $(DOCS_STATIC)/package.json $(DOCS_STATIC)/package-lock.json $(DOCS_BUILD)/
	cd $(DOCS_BUILD) && npm ci --ignore-scripts --no-audit --no-fund --legacy-peer-deps
	rm -rf $(DOCS_STATIC)/swagger-ui $(DOCS_STATIC)/redoc
	mkdir -p $(DOCS_STATIC)/swagger-ui $(DOCS_STATIC)/redoc
	cd $(DOCS_BUILD)/node_modules/swagger-ui-dist && cp swagger-ui-bundle.js swagger-ui.css \
		favicon-32x32.png LICENSE NOTICE package.json $(CURDIR)/$(DOCS_STATIC)/swagger-ui/
	cd $(DOCS_BUILD)/node_modules/redoc && cp bundles/redoc.standalone.js LICENSE package.json \
		$(CURDIR)/$(DOCS_STATIC)/redoc/
	cp $(DOCS_BUILD)/node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt \
		$(CURDIR)/$(DOCS_STATIC)/redoc/ 2>/dev/null || true
	rm -rf $(DOCS_BUILD)
