# The two commands a fresh clone needs: `make demo` and `make test` (each sets everything up first).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export DO_NOT_TRACK := 1
# Playwright drives Debian's chromium (make test-ui); it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM := /usr/bin/chromium
DBT := $(VENV)/bin/dbt
DBT_FLAGS := --project-dir dbt_project --profiles-dir dbt_project
MANIFEST := dbt_project/target/manifest.json

.PHONY: setup demo test test-ui test-celery dev docs lint format bench bench-dispatch bench-engagement bench-transform bench-large clean

setup: $(VENV)/.installed $(MANIFEST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (CI, containers)
# every process would otherwise compile ~5,000 modules of Dagster and dbt again at start-up.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --extra dev --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q orchestration
	touch $@

# Importing the @dbt_assets needs dbt's manifest: parse whenever the dbt project changes, and
# stamp the parse with the project's checksum (`mailtrail dev` then parses only if it changed).
$(MANIFEST): $(VENV)/.installed $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print 2>/dev/null)
	MAILTRAIL_PG_HOST=localhost MAILTRAIL_PG_USER=postgres MAILTRAIL_PG_DBNAME=mailtrail \
		$(DBT) parse $(DBT_FLAGS) --quiet
	$(VENV)/bin/python -c 'from orchestration.dbt_project_files import stamp_manifest; stamp_manifest()'
	touch $@

demo: setup
	$(VENV)/bin/mailtrail demo

# One worker per core (pytest-xdist): a test mostly waits on one dbt or Dagster process, so one
# test at a time leaves the second core idle. Each worker has its own embedded PostgreSQL.
test: setup lint
	$(VENV)/bin/pytest -n auto --dist worksteal

# The browser tests: a demo, the UI, Debian's chromium (installed here if missing) driven by
# Playwright; screenshots under docs/screenshots/. Not part of `make test` (pytest -m "not ui").
test-ui: setup
	@test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium) \
		|| echo "chromium could not be installed: the browser tests will be skipped"
	$(VENV)/bin/pytest -m ui tests/ui

# Two Celery workers and a Redis broker on 127.0.0.1:6379 (started here when none answers).
test-celery: setup
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no
	$(VENV)/bin/pytest -m celery tests/celery

dev: setup
	$(VENV)/bin/mailtrail dev

# dbt's documentation of the warehouse (every mart column described) as one page to open from disk
docs: setup
	$(VENV)/bin/mailtrail docs

lint: setup
	$(VENV)/bin/ruff check orchestration tests bench
	$(VENV)/bin/ruff format --check orchestration tests bench

format: setup
	$(VENV)/bin/ruff check --fix orchestration tests bench
	$(VENV)/bin/ruff format orchestration tests bench

# The competitors (dlt) are the `bench` extra: installed here only, never by `make setup`.
bench: setup
	$(UV) sync --frozen --compile-bytecode --extra dev --extra bench --python $(PYTHON)
	$(VENV)/bin/python -m bench.load_ses
	$(VENV)/bin/python -m bench.startup

# Dispatch recipients/s (batched vs per-recipient), peak memory, SES send rate held: bench/results/dispatch.json
bench-dispatch: setup
	$(VENV)/bin/python -m bench.dispatch $(BENCH_ARGS)

# Precision and recall of the engagement rules on ~106k labelled opens and clicks
# (bench/results/engagement.json); BENCH_DATABASE_URL=postgresql://... to use a server.
bench-engagement: setup
	$(VENV)/bin/python -m bench.engagement $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

# dbt build cost: full refresh vs nothing new vs 1% new (bench/transform.py); BENCH_DATABASE_URL
# names a server to use instead of an embedded one
bench-transform: setup
	$(VENV)/bin/python -m bench.transform --events 1000000 $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

bench-large: setup
	$(VENV)/bin/python -m bench.transform --events 10000000 $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

clean:
	rm -rf $(VENV) $(TOOLS) .mailtrail dbt_project/target dbt_project/logs
