#!/bin/sh
# One-shot namespace setup, run by the temporal-create-namespace service of
# ../../docker-compose.yml once the server is healthy (as temporalio/samples-server's compose
# files do it): wait until the frontend serves, create the namespace if it is missing, then
# register the custom search attributes the workflows set (workflows/visibility.go) if they are
# missing. The worker would register them itself at startup; doing it here keeps operator rights
# out of the worker's path and makes the namespace ready before any worker starts. Idempotent.
#
# Then the Nexus side (README, "Calling it from your own workflow"): the callers' namespace and
# the endpoint that routes the issue-models service to the worker's namespace and task queue.
#
# Environment: TEMPORAL_ADDRESS (read by the temporal CLI), TEMPORAL_NAMESPACE (default
# "default"), NAMESPACE_RETENTION (default 72h), SEARCH_ATTRIBUTES (Keyword attributes, default
# "InsightsOperation InsightsPhase"), WAIT_TRIES (default 60, two seconds apart),
# NEXUS_ENDPOINT (default issue-models; empty: no endpoint), CALLERS_NAMESPACE (default callers;
# empty: none), TEMPORAL_TASK_QUEUE (the worker's, default issue-models).
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${NAMESPACE_RETENTION:=72h}"
: "${SEARCH_ATTRIBUTES:=InsightsOperation InsightsPhase}"
: "${WAIT_TRIES:=60}"
: "${NEXUS_ENDPOINT=issue-models}"
: "${CALLERS_NAMESPACE=callers}"
: "${TEMPORAL_TASK_QUEUE:=issue-models}"
export TEMPORAL_ADDRESS
ns=$TEMPORAL_NAMESPACE

# wait DESCRIPTION COMMAND...: retry COMMAND until it succeeds.
wait_for() {
  what=$1
  shift
  tries=0
  until "$@" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$WAIT_TRIES" ]; then
      echo "Gave up waiting for $what" >&2
      "$@" # once more, to show its error
      exit 1
    fi
    sleep 2
  done
}

echo "Waiting for the Temporal server at $TEMPORAL_ADDRESS..."
wait_for "the Temporal server at $TEMPORAL_ADDRESS" temporal operator cluster health

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "Namespace $ns already exists."
else
  echo "Creating namespace $ns (retention $NAMESPACE_RETENTION)..."
  temporal operator namespace create --namespace "$ns" --retention "$NAMESPACE_RETENTION"
fi

# missing prints the search attributes the namespace lacks; it fails if it cannot list them.
missing() {
  have=$(temporal operator search-attribute list --namespace "$ns") || return 1
  for name in $SEARCH_ATTRIBUTES; do
    printf '%s\n' "$have" | grep -qw -- "$name" || echo "$name"
  done
}
all_present() {
  m=$(missing) && [ -z "$m" ]
}

# A new namespace takes a few seconds to reach the frontend's cache.
wait_for "namespace $ns" missing
todo=$(missing)
if [ -n "$todo" ]; then
  set --
  # The CLI pairs the n-th --name with the n-th --type.
  for name in $todo; do set -- "$@" --name "$name" --type Keyword; done
  echo "Creating Keyword search attributes: $(echo $todo)"
  temporal operator search-attribute create --namespace "$ns" "$@"
  wait_for "the new search attributes" all_present
else
  echo "Search attributes present: $SEARCH_ATTRIBUTES"
fi
echo "Namespace $ns is ready."

if [ -n "$CALLERS_NAMESPACE" ]; then
  if temporal operator namespace describe --namespace "$CALLERS_NAMESPACE" >/dev/null 2>&1; then
    echo "Namespace $CALLERS_NAMESPACE already exists."
  else
    echo "Creating namespace $CALLERS_NAMESPACE for callers (retention $NAMESPACE_RETENTION)..."
    temporal operator namespace create --namespace "$CALLERS_NAMESPACE" --retention "$NAMESPACE_RETENTION"
  fi
fi
if [ -n "$NEXUS_ENDPOINT" ]; then
  if temporal operator nexus endpoint get --name "$NEXUS_ENDPOINT" >/dev/null 2>&1; then
    echo "Nexus endpoint $NEXUS_ENDPOINT already exists."
  else
    echo "Creating Nexus endpoint $NEXUS_ENDPOINT -> namespace $ns, task queue $TEMPORAL_TASK_QUEUE..."
    temporal operator nexus endpoint create --name "$NEXUS_ENDPOINT" \
      --target-namespace "$ns" --target-task-queue "$TEMPORAL_TASK_QUEUE"
  fi
  echo "Nexus endpoint $NEXUS_ENDPOINT is ready."
fi
