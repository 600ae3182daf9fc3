#!/usr/bin/env bash
# Builds the real control plane's binaries from the Go modules pinned in this folder and
# caches them by version outside the work tree, so a fresh machine builds once and a warm
# call costs a hash. Prints the cache's bin folder on stdout (the only line there); progress
# goes to stderr.
#
#   controlplane/build.sh            build what is missing, print the bin folder
#   controlplane/build.sh --check    print the bin folder if it is complete, else exit 1
#
# The cache key covers every go.mod/go.sum here, this script and the Go version: a bumped
# pin builds into a new folder and never mixes binaries of two releases.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# Names written to the Go linker's version variables, so `kubectl version` shows the
# release rather than v0.0.0 (kubernetes hack/lib/version.sh sets the same ones).
KUBE_VERSION=v1.34.4
KUBE_MAJOR=1
KUBE_MINOR=34
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl)

if ! command -v go >/dev/null 2>&1; then
  echo "controlplane: go is not installed; the real control plane needs Go 1.24 or newer" \
       "(https://go.dev/doc/install) and the Go module proxy" >&2
  exit 3
fi

key="$(cd "$here" && cat build.sh */go.mod */go.sum */*.go | sha256sum | cut -c1-16)-$(go env GOVERSION)"
cache="${REMEDIATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remediator}/controlplane/$key"
bin="$cache/bin"

complete() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

if complete; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--check" ]; then exit 1; fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "controlplane: another build holds $cache/.lock; waiting for it" >&2
  flock 9
  if complete; then echo "$bin"; exit 0; fi
fi

log="$cache/build.log"
: >"$log"
start=$SECONDS
mkdir -p "$bin.partial"

# build MODULE_DIR OUTPUT PACKAGE [LDFLAGS]: one binary, with its log, timed.
build() {
  local dir=$1 out=$2 pkg=$3 ldflags=${4:-}
  if [ -x "$bin.partial/$out" ]; then return 0; fi
  local t0=$SECONDS
  echo "controlplane: building $out ($(( SECONDS - start ))s so far; log: $log)" >&2
  if ! (cd "$here/$dir" && CGO_ENABLED=0 go build -trimpath \
          -tags selinux,notest -ldflags "-s -w $ldflags" -o "$bin.partial/$out" "$pkg") \
          >>"$log" 2>&1; then
    echo "controlplane: building $out failed; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    echo "controlplane: fix the pin in controlplane/$dir/go.mod, or rerun to resume" >&2
    exit 1
  fi
  echo "controlplane: built $out in $(( SECONDS - t0 ))s" >&2
}

stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$KUBE_MAJOR"
  stamp+=" -X $pkg.gitMinor=$KUBE_MINOR -X $pkg.gitTreeState=clean"
  stamp+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# etcd and kwok first: they are small, and a broken pin shows up in minutes, not after
# the long kube-apiserver compile.
build etcd etcd .
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build kwok kwokctl sigs.k8s.io/kwok/cmd/kwokctl
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build kubernetes "$b" "k8s.io/kubernetes/cmd/$b" "$stamp"
done

rm -rf "$bin"
mv "$bin.partial" "$bin"
echo "controlplane: all binaries in $bin ($(( SECONDS - start ))s)" >&2
echo "$bin"
