# kafka-watchdog: everything a newcomer needs, installed from this repo's own files.
#   make demo   the watchdog against a real local ZooKeeper-mode cluster (started for you)
#   make test   the whole suite: lint, types, unit and integration tests on real clusters

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv kafka promtool alertmanager demo test lint unit integration generate clean reap

help:
	@sed -n 's/^#   //p' Makefile

# Re-installed whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

# Kafka 3.9 (ZooKeeper mode) and 4.x (KRaft) jars from Maven Central, cached outside the repo.
kafka: venv
	$(BIN)/python -m testcluster fetch

# promtool (Debian's prometheus package) checks the /metrics output in the integration tests.
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }

# A real Alertmanager (Debian's prometheus-alertmanager) receives alerts in the integration tests.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus-alertmanager >/dev/null; }

demo: venv kafka
	$(BIN)/python -m testcluster.demo

lint: venv
	$(BIN)/ruff check watchdog testcluster tests bench tools
	$(BIN)/ruff format --check watchdog testcluster tests bench tools
	@mkdir -p $(VENV)/mypy-path && ln -sfn ../../watchdog $(VENV)/mypy-path/kafka_watchdog
	MYPYPATH=$(VENV)/mypy-path $(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the pipeline's layers (pyproject: tool.importlinter)
	$(BIN)/python -m tools.rules_doc --check  # docs/alerting.md's rules table is current

# Rewrite the files generated from the code (the rules table of docs/alerting.md).
generate: venv
	$(BIN)/python -m tools.rules_doc

unit: venv
	$(BIN)/pytest tests/unit -q

integration: venv kafka promtool alertmanager
	$(BIN)/pytest tests/integration -m integration -v

test: venv kafka promtool alertmanager lint
	$(BIN)/pytest tests/unit -q
	$(BIN)/pytest tests/integration -m integration -v

# Kill JVMs a crashed test run may have left behind.
reap: venv
	$(BIN)/python -m testcluster reap

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
