# Two commands: `make demo` (set up + run the simulated demo to its report) and
# `make test` (set up + run the test suite). Everything installs from this repository.
VENV ?= .venv
PYTHON ?= python3
CORES ?= all
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup tools lint format figures report clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP) tools

tools:
	@scripts/install_tools.sh

demo: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check gemcont scripts tests benchmarks
	$(BIN)/ruff format --check gemcont scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff check --fix gemcont scripts tests benchmarks
	$(BIN)/ruff format gemcont scripts tests benchmarks
	$(BIN)/snakefmt Snakefile workflow

clean:
	rm -rf results logs benchmarks/out .snakemake
