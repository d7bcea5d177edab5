# The two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data
PEOPLE ?= 100000
SEED   ?= 7

.PHONY: install lock demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every dependency at the version and hashes locked in requirements-lock.txt (the extras dev,
# spark, browser-tests and postgres included), then the project itself, editable.
$(STAMP): $(BIN)/python pyproject.toml requirements-lock.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements-lock.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## refresh requirements-lock.txt from pyproject.toml and constraints.txt (UPGRADE=1: newest allowed)
LOCK_VENV ?= /tmp/safeguard-pip-tools
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools)
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-strip-extras \
	  --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
	  --extra dev --extra spark --extra browser-tests --extra postgres \
	  -c constraints.txt -o requirements-lock.txt pyproject.toml

## install, generate the default synthetic estate, run the whole pipeline, print the summary
demo: $(STAMP)
	$(BIN)/safeguard demo --data-dir $(DATA) --people $(PEOPLE) --seed $(SEED)

## install and run the whole test suite (what CI runs): the test files spread over the cores
## (pytest-xdist: a worker per logical core, at most 4; a file's tests and its module fixtures
## stay in one worker). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= logical
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --maxprocesses=4 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(DATA) .pytest_cache .ruff_cache .mypy_cache
