# TINpass: `make run` starts the whole stack on SQLite with demo data;
# `make test` runs the linters and the whole suite (SQLite, then PostgreSQL).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACKAGES := libs/policy services/identity services/provider_data services/gateway
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: install run run-ha test lint pytest login bench bench-micro bench-audit-cpu fuzz clean image test-image

install: $(STAMP)

$(STAMP): $(PYPROJECTS) constraints.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt \
		$(foreach p,$(PACKAGES),-e $(p))
	touch $(STAMP)

run: install
	$(PY) deploy/run_local.py

# Two replicas of every service behind Debian's nginx, on PostgreSQL and Redis
# (deploy/run_ha.py; README "Running replicas behind nginx").
run-ha: install
	bash deploy/ensure_nginx.sh
	$(PY) deploy/run_ha.py

login: install
	$(PY) deploy/demo_login.py

test: install
	VENV=$(VENV) bash deploy/test.sh

# A larger API fuzzing run (tests/fuzz) on SQLite, then PostgreSQL: FUZZ_EXAMPLES examples
# per operation and generation mode (`make test` runs 12); FUZZ_SEED varies the run.
FUZZ_EXAMPLES ?= 200
fuzz: install
	TINPASS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TINPASS_FUZZ_SEED=$(FUZZ_SEED) TINPASS_TEST_DB=sqlite \
		$(PY) -m pytest tests/fuzz --timeout=0
	TINPASS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TINPASS_FUZZ_SEED=$(FUZZ_SEED) TINPASS_TEST_DB=postgresql \
		$(PY) -m pytest tests/fuzz --timeout=0

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The whole bench (bench/run.py): installs wrk and the reference provider when missing,
# runs TINpass on fresh PostgreSQL databases with one worker per CPU and prints one table.
# BENCH_DURATION (s per case), BENCH_WORKERS, BENCH_LARGE=1 (1,000,000 rows and tokens): see bench/run.py.
bench: install
	$(PY) -m bench

# The in-process micro-benchmarks (bench/bench_*.py); BENCH=bench_token runs one.
bench-micro: install
	$(PY) -m bench micro $(BENCH)

# CPU time and commits per token and per eligibility inquiry (one process each, from /proc
# and pg_stat_database), audit events group committed or not, back to back (bench/audit_cpu.py).
bench-audit-cpu: install
	$(PY) -m bench.audit_cpu

# The container image (Containerfile, README "Container image"): podman builds it on the
# local Debian base of deploy/image/base.sh unless TINPASS_BASE_IMAGE names another;
# test-image runs migrations, the services and a sign-in from it (tests/deploy).
image: install
	bash deploy/ensure_podman.sh
	$(PY) -m deploy.image_build

test-image: install
	bash deploy/ensure_podman.sh
	TINPASS_TEST_DB=postgresql TINPASS_REQUIRE_IMAGE=1 $(PY) -m pytest -m image tests/deploy

clean:
	rm -rf $(VENV) data test-output
