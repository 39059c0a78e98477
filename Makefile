# privateline: `make run` starts the whole system, `make test` runs the whole suite.
# Both create the virtual environment first; nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench setup lock messages clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "privateline needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

## run: migrate the embedded SQLite database in ./var and serve on http://127.0.0.1:8080/
run: setup
	$(BIN)/privateline migrate
	$(BIN)/privateline serve

## test: lint, type checks, layer contracts, then the suite on SQLite and PostgreSQL
test: lint unit

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: setup
	$(BIN)/python -m pytest -n auto

## bench: POST /device/v1/checkin against a bare Starlette endpoint (bench/results/checkin.md); needs wrk;
##        then one access export and one erasure over 100,000 devices (bench/results/rights.md);
##        then SIP registrations and calls against Kamailio 5.6 (bench/results/sip.md; needs sipp, kamailio),
##        after a bare Python registrar's rate as the floor (bench/results/sip-floor.md)
bench: setup
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/checkin/run.py
	$(BIN)/python bench/rights/run.py
	@command -v sipp >/dev/null && command -v kamailio >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq sip-tester kamailio kamailio-sqlite-modules)
	$(BIN)/python bench/sip/floor.py
	$(BIN)/python bench/sip/run.py

## lock: refresh constraints.txt from the newest versions pyproject.toml allows
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

## messages: extract translatable texts and update the de/nl catalogs
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k _ --sort-output --no-location -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d src/privateline/register/locale --no-wrap --ignore-obsolete

clean:
	rm -rf $(VENV) build reports .pytest_cache .mypy_cache .ruff_cache
