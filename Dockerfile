# syntax=docker/dockerfile:1
#
# One image with the three binaries: worker (default entrypoint), starter and insights-emulator.
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
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/ ./worker ./starter ./cmd/insights-emulator

# Alpine rather than scratch/distroless: a few MB more, but it has CA certificates (for the real
# Google endpoint and Temporal Cloud) and wget, which the compose healthchecks use.
FROM alpine:3.22
RUN adduser -D -H -u 10001 app
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/worker"]
