# Two commands: `make demo` (set up + run the simulated demo to its report) and
# `make test` (set up + run the test suite). Everything installs from this repository.
VENV ?= .venv
PYTHON ?= python3
CORES ?= all
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup tools slurm lint format figures report clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP) tools

# plink2, plink1.9 and Chromium (which renders the report in tests/test_workflow.py);
# apt waits for the dpkg lock when another install runs.
tools:
	@scripts/install_tools.sh

demo: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml

test: setup slurm
	$(BIN)/pytest -q

# A one-node SLURM cluster (with sacct accounting) for tests/test_slurm_cluster.py, which
# runs the workflow through profiles/slurm-ci. Started (and its Debian packages
# installed) only as root on Debian/Ubuntu, unless SLURM=no; otherwise those tests are
# skipped, or fail under CI=true.
SLURM ?= auto
slurm:
	@if [ "$(SLURM)" != no ] && [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
		scripts/slurm/start_cluster.sh; \
	elif ! scripts/slurm/cluster_ready.sh >/dev/null 2>&1; then \
		echo "note: no local SLURM cluster; tests/test_slurm_cluster.py will be skipped" \
			"(fails under CI=true). Start one: sudo scripts/slurm/start_cluster.sh" >&2; \
	fi

lint: setup
	$(BIN)/ruff check gemcont scripts tests benchmarks
	$(BIN)/ruff format --check gemcont scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow tests/slurm_retry
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff check --fix gemcont scripts tests benchmarks
	$(BIN)/ruff format gemcont scripts tests benchmarks
	$(BIN)/snakefmt Snakefile workflow tests/slurm_retry

clean:
	rm -rf results logs .snakemake
