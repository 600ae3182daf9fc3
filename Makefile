# Every target sets itself up: a virtual environment with the project and its tools.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup debs demo test lint pytest bench bench-sandbox sandbox crds clean chaos \
	controlplane cluster cluster-down helm

# The operator, and beside it the development packages that do not ship: the API emulator
# (emulator/) and the demo, bench and test harness (devtools/).
$(STAMP): pyproject.toml emulator/pyproject.toml devtools/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e emulator -e devtools
	touch $@

setup: $(STAMP)

# Debian's Prometheus and Alertmanager for the tests with the real binaries. As root they are
# installed when missing, and their services are kept from starting (policy-rc.d) or stopped,
# so nothing is left listening on :9090/:9093; not as root those tests skip, with a notice.
DEBS := prometheus prometheus-alertmanager
debs:
	@missing=""; for b in $(DEBS); do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "notice:$$missing not installed (needs root and apt-get: sudo make debs);" \
	    "the tests with the real binaries will be skipped"; exit 0; fi; \
	guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && guard=1; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends $(DEBS); rc=$$?; \
	if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	for s in $(DEBS); do \
	  if service $$s status >/dev/null 2>&1; then service $$s stop || true; fi; \
	done; exit $$rc

demo: setup ## run the operator end to end on the embedded API emulator
	$(BIN)/remediator demo

test: debs lint pytest ## everything CI runs

# The real control plane (controlplane/): kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl (k8s.io/kubernetes v1.34.4), etcd 3.6 and kwok, built from their Go
# modules into ~/.cache/remediator (once: minutes cold, seconds warm). Without Go this only
# says so: the tests on the real cluster then skip, saying how to get them.
controlplane:
	@if command -v go >/dev/null 2>&1; then bash controlplane/build.sh >/dev/null; else \
	  echo "notice: go is not installed; the tests on the real control plane will be skipped" \
	    "(install Go 1.24+, https://go.dev/doc/install, to run them)"; fi

# Helm for the chart's tests and its scan (tools/helm: helm.sh/helm/v4, pinned), built from
# its Go module into ~/.cache/remediator/tools under a cache key of its own (once: about four
# minutes cold on 2 cores, a hash warm; a stage line with the elapsed time every 30 s).
# Without Go this only says so: the chart's tests then skip; with Go a failed build fails.
helm:
	@if command -v go >/dev/null 2>&1; then bash tools/helm/build.sh >/dev/null; else \
	  echo "notice: go is not installed; the Helm chart's tests will be skipped" \
	    "(install Go 1.24+, https://go.dev/doc/install, to run them)"; fi

# Starts it on loopback (kube-apiserver on CLUSTER_PORT) with 2 kwok nodes and writes the
# admin kubeconfig cluster.kubeconfig; `make cluster-down` stops every process of it.
CLUSTER_PORT ?= 6443
cluster: ## build (cached) and start the real control plane; writes cluster.kubeconfig
	$(PYTHON) controlplane/cluster.py up --port $(CLUSTER_PORT) --kubeconfig cluster.kubeconfig

cluster-down: ## stop every process of `make cluster`
	$(PYTHON) controlplane/cluster.py down

# The flow tests run on the emulator and on the real control plane. Two pytest runs side by
# side: everything on the emulator (its progress shown), and the tests on the real control
# plane (mostly waiting on its controllers; its log follows once both are done). Either
# failing fails the target. `pytest --cluster=both` does the same in one run.
pytest: setup debs controlplane helm
	@log=$$(mktemp); \
	$(BIN)/pytest --cluster=real --only-real -p no:cacheprovider >$$log 2>&1 & real=$$!; \
	$(BIN)/pytest --cluster=emulator; emulator=$$?; \
	wait $$real; onreal=$$?; \
	echo "---------------- the tests on the real control plane ----------------"; \
	cat $$log; rm -f $$log; \
	test $$emulator -eq 0 && test $$onreal -eq 0

# checkov, the manifests' security scan, in a venv of its own (pyproject's `scan` extra: its
# pins clash with the dev tools'). It scans deploy/ and the chart as Helm renders it (its
# defaults, and every optional object on); a check that does not apply is skipped inline,
# with its reason, by a checkov.io/skipN annotation on the object.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov --framework kubernetes --skip-download --quiet --compact
CHART_ALL := --set monitoring.serviceMonitor.enabled=true --set monitoring.prometheusRule.enabled=true \
	--set monitoring.dashboard.enabled=true --set webhook.certificate.source=certManager \
	--set 'watchNamespaces={shop}' --set rbac.namespaced=true
$(CHECKOV_VENV)/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["scan"], sep="\n")' \
	  | xargs -d '\n' $(CHECKOV_VENV)/bin/pip install --quiet
	touch $@

lint: setup helm $(CHECKOV_VENV)/.installed-stamp
	$(BIN)/ruff check operator emulator devtools tests
	$(BIN)/ruff format --check operator emulator devtools tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(CHECKOV) -d deploy --skip-path deploy/helm
	@if ! helm=$$(bash tools/helm/build.sh --check); then \
	  echo "notice: helm is not built (it needs go): the rendered chart is not scanned"; exit 0; fi; \
	out=$$(mktemp -d); export HELM_CACHE_HOME=$$out HELM_CONFIG_HOME=$$out HELM_DATA_HOME=$$out; \
	$$helm template remediator deploy/helm/remediator -n remediator-system >$$out/default.yaml \
	    2>$$out/helm.log \
	  && $$helm template remediator deploy/helm/remediator -n remediator-system $(CHART_ALL) \
	    >$$out/all-on.yaml 2>>$$out/helm.log \
	  || { cat $$out/helm.log; rm -rf $$out; exit 1; }; \
	$(CHECKOV) -f $$out/default.yaml -f $$out/all-on.yaml; rc=$$?; rm -rf $$out; exit $$rc

bench-sandbox: setup ## the emulator's own throughput (GET, PATCH, watch events)
	$(BIN)/python -m kube_emulator.bench

# The floor (minimum requests), a bare Kopf operator and Remediator side by side, on the
# emulator and on a real control plane of the bench's own (built as `make cluster` builds it):
# bench/results.json, bench/latency.png, one table (about 3 minutes on the emulator, 10 on the
# real cluster, every wait bounded). BENCH_ARGS passes options, e.g. BENCH_ARGS='--cluster real'.
# matplotlib (for the plot) only here: the `bench` extra.
bench: bench-sandbox ## floor, bare Kopf and Remediator side by side: emulator and real cluster
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m remediator_devtools.bench $(BENCH_ARGS)
	@echo "what evidence capture costs a rolling restart (capture never vs always, emulator):"
	$(BIN)/python -m remediator_devtools.bench_evidence --incidents 20 2>/dev/null

# The chaos runs (tests/chaos): incidents across every action under injected API faults and
# watch drops, SIGKILLs of the operator, two peered replicas; ends with the figures line.
# `make test` runs them at CI size through pytest; larger runs by variables, e.g.
# CHAOS_INCIDENTS=1000 CHAOS_KILLS=10 make chaos (also CHAOS_FAULT_RATE, CHAOS_SEED,
# CHAOS_PEERING_INCIDENTS). The fuzz figures come from the hostile-input tests' file.
# `make chaos CLUSTER=real` runs them on a real control plane of their own, the faults from a
# proxy in front of kube-apiserver, kube-apiserver and etcd SIGKILLed and restarted among the
# incidents (CHAOS_APISERVER_RESTARTS=4, CHAOS_ETCD_RESTARTS=2), the writes counted from the
# API server's audit log; it ends with `chaos(real): N incidents, ...`.
CLUSTER ?= emulator
chaos: setup $(if $(filter real,$(CLUSTER)),controlplane) ## hostile-input fuzzing, then chaos runs; ends with `chaos: N incidents, ...`
	$(BIN)/pytest tests/hostile -q -p no:cacheprovider
	$(BIN)/python -m tests.chaos --cluster=$(CLUSTER)

crds: setup ## regenerate crds/*.yaml (and the copies in deploy/crds) from the pydantic models
	$(BIN)/remediator crds
	$(BIN)/remediator crds --output-dir deploy/crds

sandbox: setup ## serve the emulator for kubectl until Ctrl-C
	$(BIN)/remediator sandbox --kubeconfig sandbox.kubeconfig

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache bench/results.json
