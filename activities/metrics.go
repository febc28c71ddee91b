package activities

import (
	"context"
	"path"
	"time"

	"go.temporal.io/sdk/activity"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics of the Google API calls made by the activities, through the SDK's metrics handler
// (tagged with the activity type, task queue and namespace by the SDK).
const (
	// MetricAPIRequests counts RPCs by tag method (GetOperation, CreateIssueModel, ...) and code
	// (OK, Unavailable, NotFound, ...: the gRPC code), every attempt included.
	MetricAPIRequests = "insights_api_requests"
	// MetricAPILatency is a timer of RPC latency by method.
	MetricAPILatency = "insights_api_latency"
)

// ClientOptions are the options the Contact Center Insights client of the activities needs:
// they record MetricAPIRequests and MetricAPILatency for every RPC made from an activity.
func ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(recordAPIMetrics))}
}

func recordAPIMetrics(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if activity.IsActivity(ctx) {
		h := activity.GetMetricsHandler(ctx).WithTags(map[string]string{"method": path.Base(method)})
		h.WithTags(map[string]string{"code": status.Code(err).String()}).Counter(MetricAPIRequests).Inc(1)
		h.Timer(MetricAPILatency).Record(time.Since(start))
	}
	return err
}
