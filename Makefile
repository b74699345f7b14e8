# irsa: IAM Roles for Service Accounts on any Kubernetes or OpenShift cluster.
#
#   make demo    the whole chain on a local cluster this machine builds and runs
#   make test    unit and end-to-end tests (a real kube-apiserver and etcd)
#   make bench   our webhook against a minimal floor webhook, side by side
#   make pgo     a fresh profile for profile-guided optimisation

GO      ?= go
# kustomize (which renders deploy/ for `irsa setup`) links Go's plugin
# package unless this tag is set; plugin support makes the linker keep every
# exported method, which doubles the binary and the webhook's resident
# memory. Every go command here, tests and benchmark included, builds with it.
export GOFLAGS += -tags=kustomize_disable_go_plugin_support
BIN     := bin
TESTBIN := $(BIN)/testbin

.PHONY: all build testbin test unit e2e bench pgo demo fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN)/irsa ./cmd/irsa

# The real kube-apiserver and etcd, built from pinned Go modules
# (hack/testbin/go.mod). Rebuilt only when missing or the pin changed.
testbin:
	hack/testbin/build.sh

test: testbin
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/e2e)

e2e: testbin
	$(GO) test -race -count=1 -timeout 30m ./test/e2e/...

fuzz:
	$(GO) test ./internal/mutate -run '^$$' -fuzz FuzzInject -fuzztime 60s

bench: testbin build
	$(GO) run ./hack/bench

# The compiler optimises irsa with cmd/irsa/default.pgo (profile-guided
# optimisation): our webhook's CPU profile under the bench's load. This
# takes a fresh one; commit it when the request path changes.
pgo: testbin build
	$(GO) run ./hack/bench -skip-memory -rounds 1 -duration 12s -cpuprofile cmd/irsa/default.pgo

demo: testbin build
	$(BIN)/irsa demo

clean:
	rm -rf $(BIN)
