# Tirek — one entry point for people and CI. Everything installs into .venv/.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
# Every service under services/ (each has its own pyproject.toml and package of the same name).
SERVICES := $(notdir $(wildcard services/*))
STAMP  := $(VENV)/.installed
# The kernel with its test and dev tools, and every service with its test extra (if any).
INSTALL_SPECS := -e ./shared[test,dev] $(foreach s,$(SERVICES),-e ./services/$(s)[test])

.PHONY: install lock run test test-faults lint fmt contracts bench clean help

help:
	@echo "make run    start NATS, PostgreSQL, the development issuer and every service; seed the demo"
	@echo "make test   the whole test suite against real NATS and PostgreSQL"
	@echo "make test-faults  kill services, NATS and PostgreSQL under load; count lost and doubled effects"
	@echo "make lint   ruff and mypy (strict on shared/)"
	@echo "make bench  start the platform and print throughput and latency figures"
	@echo "make contracts  rewrite shared/contracts/ from the event models (after an intended change)"

install: $(STAMP)

$(STAMP): shared/pyproject.toml $(wildcard services/*/pyproject.toml) constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(UV) pip install --python $(PY) --quiet -c constraints.txt $(INSTALL_SPECS)
	touch $(STAMP)

# Re-resolve every pinned and transitive version into constraints.txt (after changing a pin).
lock:
	test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet uv==0.13.9; }
	printf '%s\n' $(INSTALL_SPECS) | paste -d' ' - - > $(VENV)/requirements.in
	$(UV) pip compile --quiet --python-version 3.11 --no-header $(VENV)/requirements.in \
	    | grep -v '^-e ' > constraints.txt

run: install
	$(PY) -m tirek.localstack run

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The fault-injection suite (tests/faults, marked `faults`; `make test` deselects it): starts
# the platform as `make run` does on servers of its own, breaks it under load, prints counters.
test-faults: install
	$(VENV)/bin/pytest tests/faults -m faults $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check shared services tests bench
	$(VENV)/bin/ruff format --check shared services tests bench
	$(VENV)/bin/mypy -p tirek
	$(VENV)/bin/mypy $(foreach s,$(SERVICES),-p $(s))

fmt: install
	$(VENV)/bin/ruff format shared services tests bench
	$(VENV)/bin/ruff check --fix shared services tests bench

bench: install
	$(PY) -m bench $(BENCH_ARGS)

contracts: install
	$(PY) -m tirek.events.schema write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
