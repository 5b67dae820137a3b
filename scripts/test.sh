#!/usr/bin/env bash
# Runs every test of duplex on a fresh machine: installs what the tests need
# (Debian's chromium, redis-server and haproxy, the npm packages of the
# browser tests and of wsbench's Socket.IO peer), then static
# checks, the Go tests of both modules under the race detector, a short fuzz
# run, a benchmark smoke run,
# and the browser tests. Nothing is skipped: a missing tool is
# installed, or the run fails.
#
# Every step runs even when an earlier one failed, except after a failed
# install, without which nothing else can run. The run ends with a summary
# of the steps (result and duration) and a last line "N passed, M failed";
# it exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

names=()
results=()
durations=()

# run NAME FUNCTION runs FUNCTION in a subshell that stops at its first
# failing command, and records how it went.
run() {
	local name=$1 fn=$2 start rc took
	printf '\n=== %s\n' "$name"
	start=$(date +%s)
	(
		set -e
		"$fn"
	)
	rc=$?
	took=$(($(date +%s) - start))
	names+=("$name")
	results+=("$rc")
	durations+=("$took")
	if [ "$rc" -eq 0 ]; then
		printf '=== %s: ok (%ss)\n' "$name" "$took"
	else
		printf '=== %s: FAILED (exit status %s, %ss)\n' "$name" "$rc" "$took"
	fi
	return "$rc"
}

# summary prints every step's result and the closing line, and exits.
summary() {
	local i passed=0 failed=0 result
	printf '\n=== summary\n'
	for i in "${!names[@]}"; do
		if [ "${results[$i]}" -eq 0 ]; then
			result=ok
			passed=$((passed + 1))
		else
			result=FAILED
			failed=$((failed + 1))
		fi
		printf '%-7s %5ss  %s\n' "$result" "${durations[$i]}" "${names[$i]}"
	done
	printf '%d passed, %d failed\n' "$passed" "$failed"
	if [ "$failed" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

step_install() {
	local missing=()
	[ -x /usr/bin/chromium ] || missing+=(chromium)
	[ -x /usr/bin/redis-server ] || missing+=(redis-server)
	[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
	if [ ${#missing[@]} -gt 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	/usr/bin/chromium --version
	/usr/bin/redis-server --version
	/usr/sbin/haproxy -v | head -n 1
	for dir in runtime_test/browser runtime_test/bench/socketio clients/ts; do
		(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
	done
}

step_gofmt() {
	local files unformatted
	files=$(git ls-files '*.go' | grep -v /node_modules/)
	unformatted=$(gofmt -l $files)
	if [ -n "$unformatted" ]; then
		echo "gofmt needed on:"
		echo "$unformatted"
		return 1
	fi
	long_comments
}

# long_comments fails with file:line for every comment line (one that
# starts with //) of the runtime's Go files wider than 100 columns, a tab
# counting 4 and a UTF-8 character 1.
long_comments() {
	git ls-files -z 'runtime/*.go' | LC_ALL=C xargs -0 awk '
		/^[ \t]*\/\// {
			s = $0
			cont = gsub(/[\200-\277]/, "", s)
			tabs = gsub(/\t/, "", s)
			w = length($0) - cont + 3 * tabs
			if (w > 100) {
				printf "%s:%d: comment line of %d columns, more than 100\n", FILENAME, FNR, w
				bad = 1
			}
		}
		END { exit bad }'
}

step_vet() {
	local failed=0
	go vet ./... || failed=1
	(cd runtime_test && go vet ./...) || failed=1
	return "$failed"
}

step_test_main() {
	# gen/compiletest runs one goroutine of generation and type-checking:
	# the race detector finds nothing there and makes it four times slower.
	local failed=0
	go test -race -shuffle=on -count=1 $(go list ./... | grep -v /gen/compiletest) || failed=1
	go test -shuffle=on -count=1 ./gen/compiletest || failed=1
	return "$failed"
}

step_test_runtime_test() {
	cd runtime_test
	go test -race -shuffle=on -count=1 -timeout 15m ./...
}

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

step_fuzz() {
	local failed=0 pkg list target
	for pkg in $(go list ./...); do
		if ! list=$(go test -list '^Fuzz' "$pkg"); then
			echo "cannot list the fuzz targets of $pkg"
			failed=1
			continue
		fi
		for target in $(printf '%s\n' "$list" | grep -E '^Fuzz' || true); do
			echo "--- $target ($pkg)"
			go test -run '^$' -fuzz "^$target\$" -fuzztime "$(fuzz_budget "$target")" "$pkg" || failed=1
		done
	done
	return "$failed"
}

# The benchmarks whose one iteration opens thousands of connections run once.
step_bench() {
	local failed=0 heavy='IdleConnMemory|Broadcast|SlowConsumerMemory'
	go test -run '^$' -bench . -skip "$heavy" -benchtime 100x ./runtime/... || failed=1
	go test -run '^$' -bench "$heavy" -benchtime 1x ./runtime || failed=1
	return "$failed"
}

step_browser() {
	cd runtime_test/browser
	npm test
}

if ! run "install: chromium, redis-server, haproxy, npm packages" step_install; then
	echo "the install failed: no other step can run"
	summary
fi
run "gofmt, comment width" step_gofmt
run "go vet (both modules)" step_vet
run "go test (module github.com/duplexrpc/duplex)" step_test_main
run "go test (runtime_test: conformance, third-party peers, faults)" step_test_runtime_test
run "fuzz smoke (about 10 s per target)" step_fuzz
run "benchmark smoke (100 iterations each, so benchmarks cannot rot)" step_bench
run "browser tests (headless chromium)" step_browser
summary
