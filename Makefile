# sitless: `make demo` runs the live demo, `make test` runs the test suite.
# Both create the virtual environment and install sitless into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check lint format bench score screenshots demo-deps system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) demo-deps
	$(BIN)/sitless demo

# Debian packages, installed when missing and the machine allows it (root and apt-get):
# mosquitto for the demo's broker (without it the demo falls back to amqtt, which keeps
# no session across a broker restart), and mosquitto, Chromium and PostgreSQL for the
# end-to-end, browser and PostgreSQL store tests (which otherwise say why they skip).
demo-deps:
	@bash scripts/system-deps.sh mosquitto libgomp1

system-deps:
	@bash scripts/system-deps.sh mosquitto chromium libgomp1 postgresql

# Four test processes on a CI machine of two cores: most of the end-to-end tests' time is
# spent waiting for a stream played in real time, so two more processes fill those waits
# (whole suite on 2 cores: 9 min 18-30 s with -n 2, 6 min 5 s with -n 4, 7 min 56 s with
# -n 4 and two spin loops on both cores). Each test waits for the events it needs, never
# for a window of wall-clock time, so a loaded machine makes it slower, not flaky.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 4 --dist worksteal

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

score: $(STAMP)
	$(BIN)/python ../shared/tools/score.py posture ../shared/data/uci_hapt ../shared/data/spsw_pocket_tug --cli $(BIN)/sitless

bench: $(STAMP)
	$(BIN)/python -m bench

# docs/screenshots/*.png, one per dashboard page, from the running demo (bench/screenshots.py).
screenshots: $(STAMP) system-deps
	$(BIN)/python -m bench.screenshots

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
