# Two commands on a fresh machine: `make run` and `make test`. Both create or refresh .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := src tests bench
# pytest-xdist workers (each has its own databases, ports and temp files); 0 = no workers
TEST_WORKERS ?= 2

.PHONY: venv run test lint types unit demo bench clean docs-assets panel-assets

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

# mypy checks beside pytest (whose workers leave a core partly idle while they wait on
# servers); its report is printed after the tests', and either failing fails the target
test: lint
	@echo "$(BIN)/mypy --strict src & $(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal"
	@$(BIN)/mypy --strict src > $(VENV)/mypy.log 2>&1 & checker=$$!; \
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal; tests=$$?; \
	wait $$checker; types=$$?; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$types -eq 0

# `make demo PORT=8001` when 8000 is taken
PORT ?= 8000
demo: venv
	$(BIN)/criptoren demo --port $(PORT)

bench: venv
	$(BIN)/python bench/feed.py
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

# Browser assets committed so they work offline and `make run` needs no node: Swagger UI and
# ReDoc for /docs and /redoc (`make docs-assets`), lightweight-charts for /painel and axe-core
# for its accessibility tests (`make panel-assets`). Both refresh them from the versions pinned
# in the one npm lockfile in $(DOCS_STATIC).
DOCS_STATIC := src/criptoren/api/static
NPM_BUILD := $(or $(TMPDIR),/tmp)/criptoren-npm-assets
PANEL_VENDOR := src/criptoren/web/static/vendor
AXE_VENDOR := tests/support/vendor/axe-core
define npm_ci
	rm -rf $(NPM_BUILD) && mkdir -p $(NPM_BUILD)
	cp $(DOCS_STATIC)/package.json $(DOCS_STATIC)/package-lock.json $(NPM_BUILD)/
	cd $(NPM_BUILD) && npm ci --ignore-scripts --no-audit --no-fund --legacy-peer-deps
endef

docs-assets:
	$(npm_ci)
	rm -rf $(DOCS_STATIC)/swagger-ui $(DOCS_STATIC)/redoc
	mkdir -p $(DOCS_STATIC)/swagger-ui $(DOCS_STATIC)/redoc
	cd $(NPM_BUILD)/node_modules/swagger-ui-dist && cp swagger-ui-bundle.js swagger-ui.css \
		favicon-32x32.png LICENSE NOTICE package.json $(CURDIR)/$(DOCS_STATIC)/swagger-ui/
	cd $(NPM_BUILD)/node_modules/redoc && cp bundles/redoc.standalone.js LICENSE package.json \
		$(CURDIR)/$(DOCS_STATIC)/redoc/
	cp $(NPM_BUILD)/node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt \
		$(CURDIR)/$(DOCS_STATIC)/redoc/ 2>/dev/null || true
	rm -rf $(NPM_BUILD)

panel-assets:
	$(npm_ci)
	rm -rf $(PANEL_VENDOR)/lightweight-charts $(AXE_VENDOR)
	mkdir -p $(PANEL_VENDOR)/lightweight-charts $(AXE_VENDOR)
	cd $(NPM_BUILD)/node_modules/lightweight-charts && cp LICENSE package.json \
		dist/lightweight-charts.standalone.production.mjs $(CURDIR)/$(PANEL_VENDOR)/lightweight-charts/
	cd $(NPM_BUILD)/node_modules/axe-core && cp axe.min.js LICENSE LICENSE-3RD-PARTY.txt \
		package.json $(CURDIR)/$(AXE_VENDOR)/
	rm -rf $(NPM_BUILD)
