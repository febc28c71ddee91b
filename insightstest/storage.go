package insightstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"google.golang.org/protobuf/proto"
)

// store is the emulator's data beyond issue models: its own fake Cloud
// Storage (objects by gs:// URI, and the buckets that exist) and the
// conversations ingested per location. Guarded by Server.mu.
type store struct {
	objects   map[string][]byte
	buckets   map[string]bool
	convs     map[string][]*conversation          // by parent, creation order
	convByURI map[string]map[string]*conversation // parent -> transcript URI -> conversation
	// durations of the pipeline operations and the training threshold
	pipelineTime map[opKind]time.Duration
	minTraining  int64
}

// conversation is one ingested conversation.
type conversation struct {
	pb  *contactcenterinsightspb.Conversation
	seq uint64
}

func newStore(o Options) store {
	st := store{
		objects: map[string][]byte{}, buckets: map[string]bool{},
		convs: map[string][]*conversation{}, convByURI: map[string]map[string]*conversation{},
		pipelineTime: map[opKind]time.Duration{
			kindIngest: o.IngestTime, kindAnalyze: o.AnalyzeTime, kindExport: o.ExportTime, kindImport: o.ImportTime,
		},
		minTraining: int64(o.MinTrainingConversations),
	}
	for uri, data := range o.Objects {
		bucket, _, _ := parseObjectURI(uri)
		st.buckets[bucket] = true
		st.objects[uri] = slices.Clone(data)
	}
	for _, b := range o.Buckets {
		st.buckets[strings.TrimSuffix(strings.TrimPrefix(b, "gs://"), "/")] = true
	}
	return st
}

var (
	bucketRE    = `[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]`
	objectURIRE = regexp.MustCompile(`^gs://(` + bucketRE + `)/(.+)$`)
	bucketURIRE = regexp.MustCompile(`^gs://(` + bucketRE + `)(?:/(.*))?$`)
)

// parseObjectURI splits gs://bucket/object.
func parseObjectURI(uri string) (bucket, object string, ok bool) { return split2(objectURIRE, uri) }

// parseBucketURI splits gs://bucket[/prefix].
func parseBucketURI(uri string) (bucket, prefix string, ok bool) { return split2(bucketURIRE, uri) }

// objectsUnderLocked lists the object URIs of bucket under prefix (a folder:
// "chats" matches chats/…, not chats2/…), sorted.
func (st *store) objectsUnderLocked(bucket, prefix string) []string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	want := "gs://" + bucket + "/" + prefix
	var out []string
	for uri := range st.objects {
		if strings.HasPrefix(uri, want) {
			out = append(out, uri)
		}
	}
	slices.Sort(out)
	return out
}

// PutObject writes an object of the fake Cloud Storage (its bucket then
// exists), as a user's upload would.
func (s *Server) PutObject(uri string, data []byte) error {
	bucket, _, ok := parseObjectURI(uri)
	if !ok {
		return fmt.Errorf("insightstest: %q is not gs://bucket/object", uri)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[bucket] = true
	s.objects[uri] = slices.Clone(data)
	return nil
}

// Object reads an object of the fake Cloud Storage (an export writes one).
func (s *Server) Object(uri string) ([]byte, bool) {
	s.lockSettled()
	defer s.mu.Unlock()
	data, ok := s.objects[uri]
	return slices.Clone(data), ok
}

// Objects lists the object URIs of the fake Cloud Storage, sorted.
func (s *Server) Objects() []string {
	s.lockSettled()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.objects))
}

// Transcripts returns n chat transcripts to seed Options.Objects with, named
// {bucketURI}/conversation-00001.json …, each a small JSON transcript in the
// format IngestConversations reads (entries of text, role and user id).
func Transcripts(bucketURI string, n int) map[string][]byte {
	out := map[string][]byte{}
	base := strings.TrimSuffix(bucketURI, "/")
	for i := 1; i <= n; i++ {
		b, _ := json.Marshal(map[string]any{"entries": []map[string]any{
			{"start_timestamp_usec": 1_000_000, "text": fmt.Sprintf("Hello, I need help with order %d.", i), "role": "CUSTOMER", "user_id": 1},
			{"start_timestamp_usec": 2_000_000, "text": "Sure, let me look it up.", "role": "AGENT", "user_id": 2},
		}})
		out[fmt.Sprintf("%s/conversation-%05d.json", base, i)] = b
	}
	return out
}

// Conversations returns clones of the conversations ingested in parent, in
// ingestion order.
func (s *Server) Conversations(parent string) []*contactcenterinsightspb.Conversation {
	return settledClones(s, func() []*conversation { return s.convs[parent] },
		func(c *conversation) *contactcenterinsightspb.Conversation { return c.pb })
}

// settledClones brings every operation up to the clock's current time and
// returns clones of the messages pb finds in the elements list returns (both
// called under s.mu).
func settledClones[E any, M proto.Message](s *Server, list func() []E, pb func(E) M) []M {
	s.lockSettled()
	defer s.mu.Unlock()
	var out []M
	for _, e := range list() {
		out = append(out, proto.CloneOf(pb(e)))
	}
	return out
}
