#!/usr/bin/env bash
# The whole test suite: formatting, vet, unit and workflow tests, the emulator's tests, the
# integration tests against a real Temporal dev server, and the Compose file check.
# Needs only Go (gcc for -race and Node.js for the TypeScript callers, used when present). Set RELIABILITY_FULL=1 for the full-size
# reliability suite (see docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Temporal CLI, pinned in internal/temporalcli, is built once into ./bin (about 2 minutes on
# 2 cores); a no-op when it is there.
go run ./internal/temporalcli/install

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# staticcheck from the Go module proxy, pinned.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The TypeScript callers (callers/typescript, run by integration's TestTypeScriptCallers): the
# pinned @temporalio packages of its package-lock.json, with the machine's Node.js.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  # npm ci reinstalls from scratch: only when node_modules is missing or older than the lockfile.
  if [ ! -f callers/typescript/node_modules/.package-lock.json ] ||
    [ callers/typescript/package-lock.json -nt callers/typescript/node_modules/.package-lock.json ]; then
    (cd callers/typescript && npm ci --no-audit --no-fund --loglevel=error)
  fi
else
  echo "Node.js is absent: TestTypeScriptCallers will be SKIPPED (install nodejs and npm; .ci/run does)"
fi

race=""
if command -v gcc >/dev/null 2>&1; then race="-race"; fi
go test $race -count=1 -timeout 20m ./...
(cd tools/composecheck && go test -count=1 ./...)
# The fault-schedule explorer: `go test ./...` above ran it with the race detector on a reduced
# budget; its full default budget (2,000 schedules) runs here without it, then its negative
# controls (A, D, E, L reintroduced one at a time must each be found).
if [ -n "$race" ]; then go test -count=1 -run '^TestExplore$' ./explorer/; fi
./scripts/negative-controls.sh
# The alert rules in a real Prometheus's rule checker and unit tests (Debian's prometheus
# package, which .ci/run installs).
if command -v promtool >/dev/null 2>&1; then
  promtool check rules deploy/prometheus/alerts.yml
  promtool test rules deploy/prometheus/alerts_test.yml
else
  echo "promtool not found: SKIPPED the alert rules' tests (apt-get install prometheus)"
fi
# The recorded-history replay test ran above; print how much it covered.
go test -count=1 -run '^TestReplayRecordedHistories$' -v ./workflows/ | grep 'replayed'
