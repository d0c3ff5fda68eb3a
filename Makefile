# Build, run and test rafka. `make test` is what CI runs (.ci/run).

GO      ?= go
VENV    := .venv
PY_REQS := test/python/requirements.txt
# sudo only when not root (CI and the dev machines run as root).
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: build run deps test test-fast bench fuzz docker-check clean

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# build: compile the server to bin/rafka
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/rafka .

# run: build and start the server (without brokers configured it starts an embedded one); pass flags via ARGS=...
run: build
	./bin/rafka $(ARGS)

# The client-matrix probes (test/clients): installed and built once, again only when their
# sources change; every package cache stays in the ignored .cache/.
NODE_PROBE := test/clients/node/node_modules/.installed
JAVA_PROBE := test/clients/java/target/classpath.txt
RUST_PROBE := test/clients/rust/target/release/probe

# deps: install what the tests need (redis-cli, Python clients, Go modules, Kafka jars, the
# client probes); cheap when already done
deps: $(VENV)/.installed $(NODE_PROBE) $(JAVA_PROBE) $(RUST_PROBE)
	@command -v redis-cli >/dev/null || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-tools; }
	$(GO) mod download
	$(GO) run ./test/kafkaharness -fetch-only

# The venv is (re)installed only when requirements.txt changes.
$(VENV)/.installed: $(PY_REQS)
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(PY_REQS)
	touch $@

$(NODE_PROBE): test/clients/node/package.json test/clients/node/package-lock.json
	cd test/clients/node && npm ci --cache $(CURDIR)/.cache/npm --no-audit --no-fund --loglevel=error
	touch $@

$(JAVA_PROBE): test/clients/java/pom.xml $(shell find test/clients/java/src -name '*.java')
	mvn -B -q -Dmaven.repo.local=$(CURDIR)/.cache/m2 -f test/clients/java/pom.xml package

$(RUST_PROBE): test/clients/rust/Cargo.toml test/clients/rust/Cargo.lock $(wildcard test/clients/rust/src/*.rs)
	CARGO_HOME=$(CURDIR)/.cache/cargo cargo build -q --release --locked --manifest-path test/clients/rust/Cargo.toml

# test: vet, run all tests against a real Kafka broker started by test/kafkaharness, then
# the fault tests (test/faults start their own clusters; alone, so timing is not disturbed)
test: export RAFKA_TEST_VENV := $(CURDIR)/$(VENV)
test: export RAFKA_REQUIRE_CLIENTS := 1
test: deps
	$(GO) vet ./...
	$(GO) build -o bin/kafkaharness ./test/kafkaharness
	bin/kafkaharness -- $(GO) test -count=1 -timeout 15m ./...
	RAFKA_FAULTS=1 $(GO) test -count=1 -v -timeout 12m ./test/faults

# test-fast: run all tests without Kafka (embedded broker)
test-fast:
	$(GO) test -count=1 ./...

# bench: side-by-side benchmark against raw librdkafka and redis-server on a real Kafka broker; writes BENCHMARKS.md (not part of test)
bench: build
	@command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || { \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools; }
	$(GO) build -o bin/kafkaharness ./test/kafkaharness
	$(GO) build -o bin/rafkabench ./test/bench/cmd/rafkabench
	bin/kafkaharness -- bin/rafkabench -rafka bin/rafka -out BENCHMARKS.md $(BENCH_ARGS)

# fuzz: run every fuzz target for FUZZTIME each (make test runs their seeds)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParsers$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzRequestScanner$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzClientInput$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzRESPStream$$' -fuzztime $(FUZZTIME) ./test/e2e

# docker-check: validate docker/ without a Docker engine (hadolint, the compose
# wiring, systemd-analyze verify of the unit against the built binary)
docker-check: build $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -r docker/requirements-check.txt
	$(VENV)/bin/hadolint docker/Dockerfile
	$(VENV)/bin/python docker/check_compose.py docker/compose.yml
	sed "s#/usr/local/bin/rafka#$(CURDIR)/bin/rafka#" docker/rafka.service > bin/rafka.service
	systemd-analyze verify bin/rafka.service

# clean: remove build output
clean:
	rm -rf bin/
