# kafka-watchdog: everything a newcomer needs, installed from this repo's own files.
#   make demo   the watchdog against a real local ZooKeeper-mode cluster (started for you)
#   make test   the whole suite: lint, types, unit and integration tests on real clusters
#   make image  the container image (localhost/kafka-watchdog:dev) with buildah, no Docker
#   make deploy-check  Dockerfile and Helm chart checks (lint, schemas, helm-unittest)
#   make integration-under-load   the integration tests while stress-ng keeps both cores busy

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv kafka promtool alertmanager stress-ng chromium grafana-validator generate demo test \
	lint unit integration integration-under-load clean reap deploy-tools image-tools image \
	deploy-check chart-files burrow

# Per-machine cache (Kafka jars, the JMX exporter agent, Go tools), shared with testcluster/.
CACHE ?= $(or $(KAFKA_WATCHDOG_CACHE),$(HOME)/.cache/kafka-watchdog)
GO    ?= $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
GRAFANA_VALIDATE := $(CACHE)/bin/grafana-validate
# Files `make generate` writes; `make lint` fails when regenerating them changes anything.
GENERATED := docs/metrics.md docs/alerting.md docs/operating.md dashboards alerts/kafka-broker.rules.yml \
	alerts/kafka-watchdog.rules.yml

help:
	@sed -n 's/^#   //p' Makefile

# Re-installed whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

# The image and chart checks' Python tools (pyproject's deploy extra), over the test venv.
DEPLOY_STAMP := $(VENV)/.deploy-installed
$(DEPLOY_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[deploy]'
	touch $@

# helm and helm-unittest: Go builds, once per machine, cached under ~/.cache/kafka-watchdog/tools
# (a cold helm build takes minutes; later runs only find it).
deploy-tools: $(DEPLOY_STAMP)
	@GO=$(GO) tools/go-tool.sh helm >/dev/null
	@GO=$(GO) tools/go-tool.sh helm-unittest >/dev/null

# buildah builds and debootstrap makes the local base image (Debian packages; needs root).
image-tools:
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null || { apt-get update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq buildah debootstrap >/dev/null; }

# The container image on a debootstrap'ed bookworm base made once per machine (tools/image.sh).
image: image-tools $(DEPLOY_STAMP)
	$(BIN)/hadolint Dockerfile
	tools/image.sh build
	tools/image.sh size

# The chart's copies of the generated rules and dashboards (Helm cannot read outside the
# chart); `make generate` should call this.
chart-files:
	tools/chart-files.sh

# Static deploy checks (no cluster): hadolint on the Dockerfile; the chart's lint, values
# matrix rendered and validated against the Kubernetes and operator schemas, helm-unittest.
# The image itself is built and run by tests/integration/test_image.py.
deploy-check: deploy-tools promtool
	$(BIN)/pytest tests/deploy -q

# Kafka 3.9 (ZooKeeper mode) and 4.x (KRaft) jars from Maven Central, cached outside the repo.
kafka: venv
	$(BIN)/python -m testcluster fetch

# Debian's prometheus package: promtool checks /metrics and the rule files, and a real
# Prometheus runs the dashboards' queries and the rules in the integration tests.
promtool:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { apt-get update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq prometheus >/dev/null; }

# Strict Grafana schema check of dashboards/*.json (grafana-foundation-sdk's Go types, which
# the Python SDK does not enforce); built once per machine, rebuilt when its source changes.
grafana-validator: $(GRAFANA_VALIDATE)
$(GRAFANA_VALIDATE): tools/grafana-validate/main.go tools/grafana-validate/go.mod tools/grafana-validate/go.sum
	@test -x "$(GO)" || { echo "Go (>= 1.21) is needed to build $@: install it and re-run"; exit 1; }
	@mkdir -p $(dir $@)
	cd tools/grafana-validate && $(GO) build -mod=readonly -o $@ .

# Every generated file: docs/metrics.md and dashboards/*.json from the metric catalogue, the
# broker rule file, the watchdog rule file and the rules tables of docs/ from the rule
# registry, then the chart's copies of the dashboards and rule files (only once the
# chart-files target exists). RUNBOOK_BASE_URL=... points the rules' runbook links elsewhere.
generate: venv
	$(BIN)/python -m tools.generate
	@if grep -q '^chart-files:' Makefile; then $(MAKE) --no-print-directory chart-files; fi

# A real Alertmanager (Debian's prometheus-alertmanager) receives alerts in the integration tests.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus-alertmanager >/dev/null; }

# Debian's chromium: the status page is tested in a real browser (playwright drives the
# system binary; `playwright install` cannot download here, and is never needed).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; }

# stress-ng (Debian) is the CPU hog of `make integration-under-load`.
stress-ng:
	@command -v stress-ng >/dev/null || { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq stress-ng >/dev/null; }

# Debian's Burrow (1.2.1) runs beside the daemon in bench/burrow.py (a benchmark, not part of
# make test: lag agreement and CPU/RSS ratios, docs/performance.md).
burrow:
	@command -v Burrow >/dev/null || { apt-get update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq burrow >/dev/null; }

demo: venv kafka
	$(BIN)/python -m testcluster.demo

lint: venv
	$(BIN)/ruff check watchdog testcluster tests bench tools
	$(BIN)/ruff format --check watchdog testcluster tests bench tools
	@mkdir -p $(VENV)/mypy-path && ln -sfn ../../watchdog $(VENV)/mypy-path/kafka_watchdog
	MYPYPATH=$(VENV)/mypy-path $(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the pipeline's layers (pyproject: tool.importlinter)
	$(MAKE) --no-print-directory generate
	@git diff --exit-code --stat -- $(GENERATED) helm/kafka-watchdog/files || \
		{ echo "generated files differ from the committed ones: commit what 'make generate' wrote"; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- $(GENERATED) helm/kafka-watchdog/files)"; \
		test -z "$$untracked" || { echo "generated but not committed: $$untracked"; exit 1; }

unit: venv promtool grafana-validator
	$(BIN)/pytest tests/unit -q

# Two pytest-xdist workers when a core is idle (tools/test_workers.py measures it right before
# the suite starts), one process on a busy machine: each session cluster's tests run whole on
# one worker (the groups in tests/integration/conftest.py), so the ZooKeeper-mode and KRaft
# halves, which mostly wait on Kafka's own timeouts, overlap. INTEGRATION_WORKERS=N chooses.
INTEGRATION := $(BIN)/pytest tests/integration -m integration -v --durations=10 --dist loadgroup \
	-n $${INTEGRATION_WORKERS:-$$($(BIN)/python tools/test_workers.py)}

integration: venv kafka promtool alertmanager chromium deploy-tools image-tools
	$(INTEGRATION)

# The suite must hold on a busy machine (docs/testing.md): a CPU hog on every core meanwhile
# (--cpu 0: one worker per core; --timeout: it ends even if this recipe is interrupted).
integration-under-load: venv kafka promtool alertmanager chromium deploy-tools image-tools stress-ng
	stress-ng --cpu 0 --timeout 90m --quiet & hog=$$!; sleep 2; \
	$(INTEGRATION); rc=$$?; \
	kill $$hog; exit $$rc

test: venv kafka promtool alertmanager chromium grafana-validator lint deploy-check image-tools
	$(BIN)/pytest tests/unit -q
	$(INTEGRATION)

# Kill JVMs a crashed test run may have left behind.
reap: venv
	$(BIN)/python -m testcluster reap

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
