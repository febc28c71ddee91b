package activities_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insightstest"
)

// Faults put in front of the emulator (gRPC interceptors) for the start-at-most-once tests.

// pipelineOptions is an emulator with what the pipeline's steps need (transcripts to ingest, a
// bucket for exports, trainings of a minute) behind interceptors.
func pipelineOptions(interceptors ...grpc.UnaryServerInterceptor) insightstest.Options {
	return insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
		Interceptors: interceptors,
	}
}

// callHandler answers one intercepted call: it may call h (commit) or not (refuse).
type callHandler func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error)

// interceptCalls answers the nth call (1-based) of method as do says: do gets the handler and
// may call it (commit) or not (refuse).
func interceptCalls(method string, do map[int]callHandler) grpc.UnaryServerInterceptor {
	var n atomic.Int64
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasSuffix(info.FullMethod, "/"+method) {
			return handler(ctx, req)
		}
		if f := do[int(n.Add(1))]; f != nil {
			return f(ctx, req, handler)
		}
		return handler(ctx, req)
	}
}

// loseFirstReply commits the first successful call of method on the emulator and answers
// UNAVAILABLE instead of its reply, as a connection lost after the server committed would.
func loseFirstReply(method string) grpc.UnaryServerInterceptor {
	var lost atomic.Bool
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil && strings.HasSuffix(info.FullMethod, "/"+method) && lost.CompareAndSwap(false, true) {
			return nil, status.Error(codes.Unavailable, "reply lost after commit")
		}
		return resp, err
	}
}

// commitThenLoseReply lets the call through and answers UNAVAILABLE instead of its reply.
func commitThenLoseReply(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
	if _, err := h(ctx, req); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unavailable, "reply lost after commit")
}

// commitHiddenThenLoseReply is commitThenLoseReply whose operation *hidden keeps out of
// ListOperations replies (see hideFromLists): committed, not listed yet.
func commitHiddenThenLoseReply(hidden *atomic.Pointer[[]string]) callHandler {
	return func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		if err == nil {
			names := []string{resp.(*longrunningpb.Operation).GetName()}
			hidden.Store(&names)
		}
		return nil, status.Error(codes.Unavailable, "reply lost after commit")
	}
}

// hideFromLists drops the named operations from ListOperations replies while *hidden holds: an
// operation list that lags behind a create.
func hideFromLists(hidden *atomic.Pointer[[]string]) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		names := hidden.Load()
		if list, ok := resp.(*longrunningpb.ListOperationsResponse); ok && err == nil && names != nil {
			list.Operations = slices.DeleteFunc(list.Operations, func(op *longrunningpb.Operation) bool { return slices.Contains(*names, op.GetName()) })
		}
		return resp, err
	}
}

// listedFromTheSecondList ends the lag at the second ListOperations call: one look misses the
// operation, the next finds it.
func listedFromTheSecondList(hidden *atomic.Pointer[[]string]) grpc.UnaryServerInterceptor {
	var n atomic.Int64
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/ListOperations") && n.Add(1) >= 2 {
			hidden.Store(nil)
		}
		return handler(ctx, req)
	}
}

func refuse(context.Context, any, grpc.UnaryHandler) (any, error) {
	return nil, status.Error(codes.ResourceExhausted, "quota: one import at a time")
}
