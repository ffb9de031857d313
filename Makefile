# The README's two commands: `make demo` runs the product, `make test` runs every check.
# Both set up everything first on a fresh Debian machine (venv, pip packages, Debian packages).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup demo test lint typecheck unit integration bench screenshots clean

setup: $(STAMP)
	@bash deploy/install-deps.sh
	@bash deploy/kafka/fetch.sh
	@test -d deploy/kubernetes/schemas/node_modules || \
	  npm ci --prefix deploy/kubernetes/schemas --no-audit --no-fund --silent

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/eventscope demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

integration: setup
	EVENTSCOPE_REQUIRE_SERVICES=1 $(VENV)/bin/pytest -q tests/integration tests/browser $(PYTEST_ARGS)

test: setup lint typecheck
	EVENTSCOPE_REQUIRE_SERVICES=1 $(VENV)/bin/pytest -q -rfEs tests $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

screenshots: setup
	$(PY) -m demo.screenshots

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
