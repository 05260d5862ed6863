# Each target creates .venv and installs the project first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench soak install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tracewatch demo --keep

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# kill -9 of the worker while publishing (at named points of the way from a finding to a page, then many
# random ones), compared with an undisturbed run (tests/e2e/test_exactly_once.py; its four-kill test is in
# make test); TRACEWATCH_SOAK_KILLS (default 20), TRACEWATCH_SOAK_SEED
soak: $(STAMP)
	TRACEWATCH_SOAK=1 $(BIN)/python -m pytest -p no:cacheprovider -s tests/e2e/test_exactly_once.py -m soak
