# Two commands do all the set-up on a fresh machine with Python 3.11 and git:
#   make report   - create .venv, install, build the demo study if there is none, run the annual reports
#   make test     - same set-up, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_RAW   := data/demo/raw
DEMO_STORE := data/demo/store
DEMO_PEOPLE ?= 20000
DEMO_SEED   ?= 2019
# The demo study's pseudonymisation key: documented, not secret, never for real data.
DEMO_KEY := longitudinal-demo-key-not-secret
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: install system-deps axe-deps test report demo bench lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

# Optional system packages for the tests that need them (headless Chromium, R's msm).
# Best effort: where they cannot be installed, those tests skip and say why.
system-deps:
	@bash scripts/system-deps.sh

$(DEMO_STORE)/ingest_report.json: | $(STAMP)
	$(BIN)/longitudinal simulate --people $(DEMO_PEOPLE) --seed $(DEMO_SEED) --out $(DEMO_RAW) --format parquet
	LONGITUDINAL_PSEUDONYM_KEY=$(DEMO_KEY) $(BIN)/longitudinal ingest $(DEMO_RAW) --out $(DEMO_STORE)

demo: $(DEMO_STORE)/ingest_report.json

# axe-core and puppeteer-core for the accessibility test, from tests/axe/package-lock.json (after system-deps,
# which brings npm); the test runs `npm ci` itself if they are missing, and skips only without chromium or node.
axe-deps: system-deps
	-@command -v npm >/dev/null 2>&1 && (cd tests/axe && npm ci --no-audit --no-fund --loglevel=error) \
		|| echo "axe-deps: npm not available or npm ci failed; the axe-core test needs tests/axe/node_modules"

# --durations=30: the slowest tests in every log (the suite must stay under 10 minutes on 2 cores).
# --dist worksteal: an idle worker takes queued tests from a busy one (the report tests are long and
# otherwise left one worker idle for the last part of the run).
test: install system-deps axe-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(WORKERS) --dist worksteal --durations=30 tests src/longitudinal

# Exit status 1 lists the areas that failed; `make report RESUME=--resume` re-runs only those
# (and any whose data, parameters or code changed).
RESUME ?=
report: install demo
	$(BIN)/longitudinal report annual --year auto --area all --data $(DEMO_STORE) --out reports/ \
		--workers $(WORKERS) $(RESUME)

bench: install
	$(BIN)/python bench/run_all.py

# The notebooks' default `data` parameter is ../data/demo/store (relative to notebooks/).
lab: install demo
	$(BIN)/jupyter lab --notebook-dir=notebooks

clean:
	rm -rf $(VENV) data/demo reports/*/ build
