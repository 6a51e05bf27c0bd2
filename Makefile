# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Two installs: what the gateway needs (`make run`), and that plus the test and
# lint tools and the clients the suite drives (`make test`, `make install`).
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
PORT ?= 9000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run install clients test lint unit e2e tools bench clean

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The aws CLI and boto3 for the README's tour (not needed to run the gateway).
clients: $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[clients]'

run: $(RUN_STAMP)
	$(VENV)/bin/s3gate dev --port $(PORT)

# rclone, s3cmd and a headless browser (the CORS test) come from the
# distribution when missing. s3fs (with
# pandas) gets its own venv: its aiobotocore pins an older botocore than the
# project's, so the e2e suite runs it as a separate client process.
ANALYST_VENV ?= .venv-analyst

tools:
	@if ! command -v rclone >/dev/null || ! command -v s3cmd >/dev/null \
		|| ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			rclone s3cmd chromium chromium-driver >/dev/null; \
	fi
	@if [ ! -x $(ANALYST_VENV)/bin/python ] || ! $(ANALYST_VENV)/bin/python -c "import s3fs, pandas" 2>/dev/null; then \
		$(PYTHON) -m venv $(ANALYST_VENV) && \
		$(ANALYST_VENV)/bin/pip install --quiet "s3fs>=2024.6" "pandas>=2.2"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check s3gate tests benchmarks
	$(VENV)/bin/ruff format --check s3gate tests benchmarks
	$(VENV)/bin/mypy s3gate
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

e2e: $(STAMP) tools
	$(PY) -m pytest -q tests/e2e

# The unit tests run beside the end-to-end tests, which spend most of their
# time waiting on servers and clients, so the suite's wall time is about the
# e2e suite's on a 2-core box. Both must pass; the unit output follows.
test: $(STAMP) tools lint
	@$(PY) -m pytest -q -p no:cacheprovider tests/unit > .unit-tests.log 2>&1 & unit=$$!; \
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=30 tests/e2e; e2e=$$?; \
	wait $$unit; units=$$?; \
	echo "== tests/unit"; tail -n 40 .unit-tests.log; \
	echo "tests/e2e exit $$e2e, tests/unit exit $$units"; \
	[ $$e2e -eq 0 ] && [ $$units -eq 0 ]

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(ANALYST_VENV) .pytest_cache .mypy_cache .ruff_cache
