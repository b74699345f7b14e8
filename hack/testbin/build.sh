#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd used by the tests into bin/testbin.
# Rebuilds only when a binary is missing or the pinned sources changed; a cold
# build takes about ten minutes on two cores, a warm one seconds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${TESTBIN_DIR:-$here/../../bin/testbin}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

stamp="$(cd "$here" && cat go.mod go.sum build.sh kube-apiserver/main.go etcd/main.go | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && "$(cat "$out/.stamp" 2>/dev/null)" == "$stamp" ]]; then
	echo "testbin: up to date in $out"
	exit 0
fi

echo "testbin: building kube-apiserver and etcd into $out (cold: about 10 minutes)"
cd "$here"
# Stamp the real version, so the API server reports v1.X.Y, not v0.0.0.
version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
major="${version#v}"; major="${major%%.*}"
minor="${version#v*.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
# One package at a time keeps peak memory near 2 GB on a small machine.
go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver" ./kube-apiserver
go build -trimpath -o "$out/etcd" ./etcd
echo "$stamp" > "$out/.stamp"
echo "testbin: done"
