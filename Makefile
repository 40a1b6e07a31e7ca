GO      ?= go
# Pinned: this module proxy serves exact versions only.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.7.0
ACTIONLINT  = github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

.PHONY: build binaries images test test-containers bench lint fuzz clean

## build: compile every package and the chaos CLI into ./bin
build:
	$(GO) build ./...
	$(GO) build -o bin/chaos ./cmd/chaos

## binaries: build (or find in the cache) lnd, btcd and Aperture, showing
## progress
binaries:
	$(GO) run ./cmd/chaos build -aperture

## images: the containers backend's images (FROM scratch, static binaries)
images:
	$(GO) run ./cmd/chaos images

## test-containers: the containers subset: the scenarios that need
## containers (a node isolated), the container nemeses and a handful of
## the catalogue, on containers (needs Docker; make test runs the
## containers package's tests and TestBackendsAgree)
CONTAINER_SCENARIOS = payee-isolated-while-held|provider-paused-credentialed-retry|payer-lnd-killed-in-flight|payee-frozen-in-flight|partition-lnd-lnd-held|hodl-timeout|response-lost-after-processing|crash-htlc-held
test-containers: binaries images
	$(GO) test -count=1 -timeout 40m -run 'TestScenarios/cases/($(CONTAINER_SCENARIOS))$$' ./scenarios/ -backend=containers -parallel 1

## test: the whole test suite against real btcd and LND processes; then
## the example client module (its own go.mod) certifying its adapter, and
## the unit tests of the aperture interceptor's adapter (its own go.mod),
## and the Kubernetes manifests decoded strictly (deploy/k8s, its own go.mod)
test: binaries
	$(GO) test -count=1 -timeout 30m ./...
	cd examples/certify-go && $(GO) test -count=1 -timeout 15m ./...
	cd interop/aperture-interceptor && $(GO) test -count=1 ./...
	cd deploy/k8s && $(GO) test -count=1 ./...

## bench: time to first payment (fresh and from a snapshot), peak RSS;
## a client purchase against the raw LND payment, and the journal's cost;
## steps per second on the live tier and the simulator, and their ratio;
## the simulator's time to find each broken client (median of five seeds);
## purchases per second against raw LND payments at concurrency 1, 4, 16;
## time to a ready network and a first purchase, containers vs processes;
## the whole catalogue serial vs -parallel; the simulator's steps per
## second with one worker and with two
bench: binaries
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 30m ./regtest/
	$(GO) test -run '^$$' -bench 'Purchase|Journal' -benchtime 20x -timeout 30m ./client/
	$(GO) test -run '^$$' -bench Throughput -benchtime 120x -timeout 30m -v ./client/
	$(GO) test -run '^$$' -bench Backends -benchtime 3x -timeout 30m ./harness/live/
	$(GO) test -run '^$$' -bench 'Tiers|FindMutants' -benchtime 1x -timeout 30m ./scenarios/
	$(GO) test -run '^$$' -bench 'Catalogue|SimWorkers' -benchtime 1x -timeout 30m ./cmd/chaos/

## fuzz: each fuzz target for FUZZTIME (default 60s)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAuthorization$$' -fuzztime $(FUZZTIME) ./fakeprovider/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./fakeprovider/
	$(GO) test -run '^$$' -fuzz '^FuzzParseChallenges$$' -fuzztime $(FUZZTIME) ./client/
	$(GO) test -run '^$$' -fuzz '^FuzzChallengeRoundTrip$$' -fuzztime $(FUZZTIME) ./client/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSchedule$$' -fuzztime $(FUZZTIME) ./harness/soak/
	$(GO) test -run '^$$' -fuzz '^FuzzParseDescriptor$$' -fuzztime $(FUZZTIME) ./certify/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./harness/shard/
	$(GO) test -run '^$$' -fuzz '^FuzzReadJSONL$$' -fuzztime $(FUZZTIME) ./harness/history/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSteps$$' -fuzztime $(FUZZTIME) ./harness/property/
	$(GO) test -run '^$$' -fuzz '^FuzzSplitCommand$$' -fuzztime $(FUZZTIME) ./cmd/chaos/

## lint: formatting, vet and staticcheck (both modules); the workflows
## and the action (actionlint), the shell scripts (shellcheck)
lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd examples/certify-go && $(GO) vet ./...
	cd interop/aperture-interceptor && $(GO) vet ./...
	cd deploy/k8s && $(GO) vet ./...
	$(GO) run $(ACTIONLINT)
	shellcheck .ci/run .github/certify.sh

clean:
	rm -rf bin
