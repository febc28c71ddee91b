package insights

import (
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// CodeCancelled is google.rpc.Code.CANCELLED: the error code of a cancelled operation.
const CodeCancelled = int32(code.Code_CANCELLED)

// Operation is a google.longrunning.Operation in its REST JSON shape. Metadata and Response are
// the Any messages as JSON, each with its "@type". When Done, exactly one of Error and Response
// is set.
type Operation struct {
	Name     string          `json:"name"`
	Done     bool            `json:"done"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Error    *Status         `json:"error,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
}

// Status is a google.rpc.Status in its REST JSON shape.
type Status struct {
	Code    int32             `json:"code"`
	Message string            `json:"message,omitempty"`
	Details []json.RawMessage `json:"details,omitempty"`
}

func (s *Status) Error() string {
	return fmt.Sprintf("%s: %s", codeName(codeOf(s.Code)), s.Message)
}

// StatusFromProto converts a google.rpc.Status; details that cannot be rendered (unknown Any
// types) are kept as their type URL so nothing is silently dropped.
func StatusFromProto(st *spb.Status) *Status {
	if st == nil {
		return nil
	}
	out := &Status{Code: st.GetCode(), Message: st.GetMessage()}
	for _, d := range st.GetDetails() {
		out.Details = append(out.Details, anyJSON(d))
	}
	return out
}

// OperationFromProto converts an Operation and enforces the google.longrunning contract: a done
// operation carries exactly one of error and response, and an error never has code 0.
func OperationFromProto(op *longrunningpb.Operation) (Operation, error) {
	out := Operation{Name: op.GetName(), Done: op.GetDone()}
	if op.GetMetadata() != nil {
		out.Metadata = anyJSON(op.GetMetadata())
	}
	switch r := op.GetResult().(type) {
	case *longrunningpb.Operation_Error:
		out.Error = StatusFromProto(r.Error)
	case *longrunningpb.Operation_Response:
		out.Response = anyJSON(r.Response)
	}
	if !out.Done {
		if out.Error != nil || out.Response != nil {
			return out, fmt.Errorf("operation %s is not done but carries a result", out.Name)
		}
		return out, nil
	}
	if (out.Error == nil) == (out.Response == nil) {
		return out, fmt.Errorf("operation %s is done but does not carry exactly one of error and response", out.Name)
	}
	if out.Error != nil && out.Error.Code == 0 {
		return out, fmt.Errorf("operation %s is done with an error whose code is 0 (OK)", out.Name)
	}
	return out, nil
}

func anyJSON(a *anypb.Any) json.RawMessage {
	b, err := protojson.Marshal(a)
	if err != nil {
		// The type is not linked into this binary: keep what we know.
		b, _ = json.Marshal(map[string]string{"@type": a.GetTypeUrl()})
	}
	return b
}

// UnmarshalAny decodes one of Operation's Any fields (metadata or response) into msg. The JSON
// was recorded (an activity result in history) by whatever release and protobuf library ran
// then, and workflows decide on it: fields this build does not know are skipped, so that a
// library bump, or a newer API field, cannot change what replay decides (and the commands it
// emits).
func UnmarshalAny(raw json.RawMessage, msg proto.Message) error {
	var a anypb.Any
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &a); err != nil {
		return err
	}
	return a.UnmarshalTo(msg)
}

// IssueModel decodes the response of a successful CreateIssueModel operation.
func (o Operation) IssueModel() (*contactcenterinsightspb.IssueModel, error) {
	if o.Response == nil {
		return nil, fmt.Errorf("operation %s has no response", o.Name)
	}
	m := &contactcenterinsightspb.IssueModel{}
	return m, UnmarshalAny(o.Response, m)
}

// Times are the createTime and endTime every Contact Center Insights operation metadata carries.
type Times struct {
	CreateTime *time.Time `json:"createTime,omitempty"`
	EndTime    *time.Time `json:"endTime,omitempty"`
}

// Times reads createTime/endTime from the metadata, whichever metadata type it is.
func (o Operation) Times() Times {
	var t struct {
		CreateTime *time.Time `json:"createTime"`
		EndTime    *time.Time `json:"endTime"`
	}
	_ = json.Unmarshal(o.Metadata, &t)
	return Times{CreateTime: t.CreateTime, EndTime: t.EndTime}
}

// MarshalREST renders a proto message in the REST JSON shape (camelCase, enum names).
func MarshalREST(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

// CreateTimeOf reads metadata.createTime of an API operation, whatever its metadata type.
func CreateTimeOf(op *longrunningpb.Operation) time.Time {
	if op.GetMetadata() == nil {
		return time.Time{}
	}
	t := Operation{Metadata: anyJSON(op.GetMetadata())}.Times()
	if t.CreateTime == nil {
		return time.Time{}
	}
	return *t.CreateTime
}
