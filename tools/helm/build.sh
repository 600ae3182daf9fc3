#!/usr/bin/env bash
# Builds Helm from its Go module (helm.sh/helm/v4, pinned in go.mod beside this script) and
# caches the binary by version outside the work tree: a fresh machine builds once, a warm
# call costs a hash. Prints the binary's path on stdout (the only line there); progress, a
# stage line with the elapsed time, goes to stderr.
#
#   tools/helm/build.sh            build it if missing, print the path of helm
#   tools/helm/build.sh --check    print the path if it is built, else exit 1
#
# Its cache key is its own (go.mod, go.sum, this script, the Go version), apart from the
# control plane's: a Helm bump never rebuilds kube-apiserver, and the reverse.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v go >/dev/null 2>&1; then
  echo "helm: go is not installed; the chart's tests need Go 1.24 or newer" \
       "(https://go.dev/doc/install) and the Go module proxy to build Helm" >&2
  exit 3
fi

# The release named to Helm's linker variables, so `helm version` shows it (Helm's own
# Makefile sets the same ones); it must equal the require in go.mod (checked below).
HELM_VERSION=v4.3.2

key="$(cd "$here" && cat build.sh go.mod go.sum | sha256sum | cut -c1-16)-$(go env GOVERSION)"
cache="${REMEDIATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/remediator}/tools/$key"
helm="$cache/bin/helm"

if [ -x "$helm" ]; then echo "$helm"; exit 0; fi
if [ "${1:-}" = "--check" ]; then exit 1; fi

if ! grep -q "helm.sh/helm/v4 $HELM_VERSION\b" "$here/go.mod"; then
  echo "helm: go.mod does not require helm.sh/helm/v4 $HELM_VERSION (HELM_VERSION here)" >&2
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "helm: another build holds $cache/.lock; waiting for it" >&2
  flock 9
  if [ -x "$helm" ]; then echo "$helm"; exit 0; fi
fi

log="$cache/build.log"
: >"$log"
start=$SECONDS

# stage NAME COMMAND...: one step, logged, with a line when it starts and every 30 s while
# it runs (a cold compile takes minutes on two cores), and its time when it ends.
stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "helm: $name ($(( SECONDS - start ))s so far; log: $log)" >&2
  ("$@") >>"$log" 2>&1 &
  local pid=$!
  while ! wait_for "$pid" 30; do
    echo "helm: $name, still at it ($(( SECONDS - t0 ))s)" >&2
  done
  if ! wait "$pid"; then
    echo "helm: $name failed after $(( SECONDS - t0 ))s; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
  echo "helm: $name done in $(( SECONDS - t0 ))s" >&2
}

# wait_for PID SECONDS: whether the process ended within that time.
wait_for() {
  local i
  for (( i = 0; i < $2 * 2; i++ )); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.5
  done
  ! kill -0 "$1" 2>/dev/null
}

pkg=helm.sh/helm/v4/internal/version
ldflags="-s -w -X $pkg.version=$HELM_VERSION -X $pkg.gitTreeState=clean"
stage "downloading the modules of helm.sh/helm/v4 $HELM_VERSION" \
  bash -c "cd '$here' && go mod download"
stage "compiling helm $HELM_VERSION" \
  bash -c "cd '$here' && CGO_ENABLED=0 go build -trimpath -ldflags '$ldflags' \
    -o '$cache/bin.partial/helm' helm.sh/helm/v4/cmd/helm"

rm -rf "$cache/bin"
mv "$cache/bin.partial" "$cache/bin"
echo "helm: built $helm ($(( SECONDS - start ))s)" >&2
echo "$helm"
