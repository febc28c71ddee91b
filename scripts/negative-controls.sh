#!/usr/bin/env bash
# Negative controls of the fault-schedule explorer (docs/RELIABILITY.md, "Fault-schedule
# explorer"): reintroduces each of issue 25's bugs A, D, E and L, one at a time, with the patches
# in explorer/testdata/negative (built through `go test -overlay`, the tree is not touched), and
# fails unless the explorer's default budget finds each. Four builds: a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -timeout 30m -run '^TestNegativeControls$' -v ./explorer/ -explore.negative
