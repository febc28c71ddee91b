# syntax=docker/dockerfile:1
#
# One image with the binaries: worker (default entrypoint), starter, insights-emulator and
# healthcheck (the HTTP probe the Compose healthchecks use).
#   docker build -t durable-lro .
#   docker run --rm durable-lro -help
#   docker run --rm --entrypoint starter durable-lro -h

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that source edits do not download modules again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# Static (no cgo), reproducible paths, no symbol tables: ~40 MB of binaries in all.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./starter ./cmd/insights-emulator ./cmd/healthcheck

# distroless/static: CA certificates (the real Google endpoint, Temporal Cloud), tzdata and
# /etc/passwd with a nonroot user (65532), and nothing else: no shell, no package manager, about
# 2 MB. The healthchecks therefore run our own static `healthcheck URL` instead of wget.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/worker"]
