# The two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data
PEOPLE ?= 100000
SEED   ?= 7

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,spark,browser-tests,postgres]"
	touch $(STAMP)

install: $(STAMP)

## install, generate the default synthetic estate, run the whole pipeline, print the summary
demo: $(STAMP)
	$(BIN)/safeguard demo --data-dir $(DATA) --people $(PEOPLE) --seed $(SEED)

## install and run the whole test suite (what CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(DATA) .pytest_cache .ruff_cache .mypy_cache
