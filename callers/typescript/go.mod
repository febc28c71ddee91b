// This go.mod makes callers/typescript a module of its own, so that the Go tool of the
// repository (go build ./..., go vet ./...) does not walk its node_modules.
module github.com/issuemodels/durable-lro/callers/typescript

go 1.26
