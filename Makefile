# Two commands: `make run` sets up and runs the bot, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup run try simulate migrate test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Komorebi needs Python 3.11 or newer (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/python -m bot run

try: setup
	$(BIN)/python -m bot try

simulate: setup
	$(BIN)/python -m bot simulate --participants 1000 --days 56 --seed 1

migrate: setup
	$(BIN)/python -m bot migrate

test: setup
	$(BIN)/python -m pytest

# Benchmarks (not tests): bench/README.md. `make bench BENCH_ARGS=--quick` for a fast sanity run.
bench: setup
	$(BIN)/python bench/fanout.py $(BENCH_ARGS)
	$(BIN)/python bench/updates.py $(BENCH_ARGS)
	$(BIN)/python bench/scale.py $(BENCH_ARGS)
	$(BIN)/python bench/limits.py $(BENCH_ARGS)
	$(BIN)/python bench/experiments.py $(BENCH_ARGS)
	$(BIN)/python bench/simulation_profile.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache data/try.db*
