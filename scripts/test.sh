#!/usr/bin/env bash
# Runs every test of duplex on a fresh machine: installs what the tests need
# (Debian's chromium, the npm packages of the browser tests), then static
# checks, the Go tests of both modules under the race detector, a short fuzz
# run, a benchmark smoke run,
# and the browser tests. Nothing is skipped: a missing tool is
# installed, or the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s\n' "$*"; }

step "install: chromium, npm packages"
if [ ! -x /usr/bin/chromium ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
for dir in runtime_test/browser clients/ts; do
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
done

step "gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v /node_modules/))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
(cd runtime_test && go vet ./...)

step "go test (module github.com/duplexrpc/duplex)"
go test -race -shuffle=on -count=1 ./...

step "go test (runtime_test: conformance, third-party peers)"
(cd runtime_test && go test -race -shuffle=on -count=1 -timeout 15m ./...)

step "fuzz smoke (about 10 s per target)"
# Budgets are execution counts, not durations: Go 1.26's fuzz coordinator
# can fail a duration-bounded run with a spurious "context deadline
# exceeded" when the deadline races a busy worker (go.dev/issue/75804,
# fixed in Go 1.27). Counts are sized to roughly 10 s on this machine.
fuzz_budget() {
	case "$1" in
	FuzzValidator) echo 300000x ;;
	FuzzStream) echo 5000x ;;
	*) echo 50000x ;;
	esac
}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep -E '^Fuzz' || true); do
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$(fuzz_budget "$target")" "$pkg"
	done
done

step "benchmark smoke (100 iterations each, so benchmarks cannot rot)"
# The benchmarks whose one iteration opens thousands of connections run once.
heavy='IdleConnMemory|Broadcast'
go test -run '^$' -bench . -skip "$heavy" -benchtime 100x ./runtime/...
go test -run '^$' -bench "$heavy" -benchtime 1x ./runtime

step "browser tests (headless chromium)"
(cd runtime_test/browser && npm test)

printf '\nall tests passed\n'
