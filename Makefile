# The two commands: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test fuzz lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/sanshe migrate
	$(BIN)/sanshe seed-demo
	$(BIN)/sanshe serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

# The contract fuzz run (tests/test_contract_fuzz.py) with many more examples, every role in every
# phase and a random seed; SANSHE_FUZZ_SEED=N repeats a run. `make test` runs it small.
FUZZ_EXAMPLES ?= 100
fuzz: $(VENV)/.installed-dev
	SANSHE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SANSHE_FUZZ_ALL_PHASES=1 SANSHE_FUZZ_RANDOM=1 SANSHE_FUZZ_WORKERS=4 \
		$(BIN)/pytest -p no:cacheprovider -s tests/test_contract_fuzz.py

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed
	$(BIN)/sanshe bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
