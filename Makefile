# Two commands do all the set-up on a fresh Debian 12 with Python 3.11:
#   make demo   creates .venv, installs PriceHawk with every extra, runs `pricehawk demo`
#   make test   the same install, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint benchmarks airflow clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: apt-get install -y python3-venv"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip uv
	# compat editable mode: every top-level package of the tree (portal, crawler, ...) imports
	$(BIN)/uv pip install --python $(BIN)/python -q -e ".[all,dev]" --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pricehawk demo

# Bytecode caching on (some machines turn it off globally): the suite starts many Python
# processes (crawls, workers, Airflow), and recompiling every import each time doubles it.
test: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pricehawk

benchmarks: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b | tail -n 1; done

airflow: $(STAMP)
	$(BIN)/pricehawk airflow

clean:
	rm -rf $(VENV) .pricehawk-test artifacts
