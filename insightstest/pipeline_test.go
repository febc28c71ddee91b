package insightstest

import (
	"strings"
	"testing"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

const bucket = "gs://acme-chats/2026-11"

func ingestReq(p, uri string) *contactcenterinsightspb.IngestConversationsRequest {
	return &contactcenterinsightspb.IngestConversationsRequest{
		Parent: p,
		Source: &contactcenterinsightspb.IngestConversationsRequest_GcsSource_{GcsSource: &contactcenterinsightspb.IngestConversationsRequest_GcsSource{BucketUri: uri}},
		ObjectConfig: &contactcenterinsightspb.IngestConversationsRequest_TranscriptObjectConfig_{
			TranscriptObjectConfig: &contactcenterinsightspb.IngestConversationsRequest_TranscriptObjectConfig{Medium: contactcenterinsightspb.Conversation_CHAT}},
	}
}

// ingest runs one IngestConversations to its end through the real client and returns its
// metadata's stats.
func (e *env) ingest(t *testing.T, p, uri string) *contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats {
	t.Helper()
	op, err := e.client.IngestConversations(e.ctx, ingestReq(p, uri), noRetry)
	if err != nil {
		t.Fatalf("IngestConversations: %v", err)
	}
	md, err := op.Metadata()
	if err != nil || md.GetRequest().GetParent() != p {
		t.Fatalf("running ingest metadata = %v, %v", md, err)
	}
	e.clock.Advance(DefaultIngestTime)
	if _, err := op.Poll(e.ctx, noRetry); err != nil || !op.Done() {
		t.Fatalf("ingest done=%v err=%v", op.Done(), err)
	}
	md, _ = op.Metadata()
	if md.GetEndTime() == nil {
		t.Errorf("done ingest has no end_time")
	}
	return md.GetIngestConversationsStats()
}

func (e *env) analyze(t *testing.T, p, filter string, pct float32) *contactcenterinsightspb.BulkAnalyzeConversationsResponse {
	t.Helper()
	op, err := e.client.BulkAnalyzeConversations(e.ctx, &contactcenterinsightspb.BulkAnalyzeConversationsRequest{Parent: p, Filter: filter, AnalysisPercentage: pct}, noRetry)
	if err != nil {
		t.Fatalf("BulkAnalyzeConversations: %v", err)
	}
	e.clock.Advance(DefaultAnalyzeTime / 2)
	if _, err := op.Poll(e.ctx, noRetry); err != nil || op.Done() {
		t.Fatalf("half-way analysis done=%v err=%v", op.Done(), err)
	}
	md, _ := op.Metadata()
	if total := md.GetTotalRequestedAnalysesCount(); total > 1 && (md.GetCompletedAnalysesCount() == 0 || md.GetCompletedAnalysesCount() >= total) {
		t.Errorf("half-way analysis metadata %v: want some but not all completed", md)
	}
	e.clock.Advance(DefaultAnalyzeTime)
	resp, err := op.Poll(e.ctx, noRetry)
	if err != nil || resp == nil {
		t.Fatalf("analysis: %v %v", resp, err)
	}
	md, _ = op.Metadata()
	if md.GetCompletedAnalysesCount() != md.GetTotalRequestedAnalysesCount() {
		t.Errorf("done analysis metadata %v: completed != total", md)
	}
	return resp
}

func (e *env) conversations(t *testing.T, p, filter string) []*contactcenterinsightspb.Conversation {
	t.Helper()
	it := e.client.ListConversations(e.ctx, &contactcenterinsightspb.ListConversationsRequest{Parent: p, Filter: filter, PageSize: 7}, noRetry)
	var out []*contactcenterinsightspb.Conversation
	for {
		c, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("ListConversations: %v", err)
		}
		out = append(out, c)
	}
}

func TestIngestFromTheFakeBucketSkipsDuplicates(t *testing.T) {
	objs := Transcripts(bucket, 20)
	objs["gs://acme-chats/2026-11/broken.json"] = []byte("not json")
	objs["gs://acme-chats/2026-12/conversation-00001.json"] = objs[bucket+"/conversation-00001.json"] // another folder
	e := newEnv(t, Options{Objects: objs})

	st := e.ingest(t, parent, bucket)
	if st.GetProcessedObjectCount() != 21 || st.GetSuccessfulIngestCount() != 20 || st.GetFailedIngestCount() != 1 || st.GetDuplicatesSkippedCount() != 0 {
		t.Fatalf("first ingest stats = %v, want 21 processed, 20 ingested, 1 failed", st)
	}
	convs := e.conversations(t, parent, "")
	if len(convs) != 20 {
		t.Fatalf("ListConversations = %d conversations, want 20", len(convs))
	}
	if uri := convs[0].GetDataSource().GetGcsSource().GetTranscriptUri(); !strings.HasPrefix(uri, bucket+"/") || convs[0].GetMedium() != contactcenterinsightspb.Conversation_CHAT || convs[0].GetTurnCount() != 2 {
		t.Errorf("conversation = %v", convs[0])
	}

	// The same bucket again (a retry, a weekly re-run): every object is a duplicate.
	st = e.ingest(t, parent, bucket+"/")
	if st.GetSuccessfulIngestCount() != 0 || st.GetDuplicatesSkippedCount() != 20 || st.GetFailedIngestCount() != 1 {
		t.Fatalf("second ingest stats = %v, want 20 duplicates skipped", st)
	}
	if n := len(e.conversations(t, parent, "")); n != 20 || e.srv.Stats().Conversations[parent] != 20 {
		t.Fatalf("%d conversations after a second ingest, want still 20", n)
	}
	// Another location of the same project has its own conversations.
	if st := e.ingest(t, parent2, bucket); st.GetSuccessfulIngestCount() != 20 {
		t.Errorf("ingest in %s = %v", parent2, st)
	}
}

func TestIngestErrorsNameTheResource(t *testing.T) {
	e := newEnv(t, Options{Objects: Transcripts(bucket, 1)})
	for _, c := range []struct {
		uri  string
		code codes.Code
		want string
	}{
		{"gs://no-such-bucket/x", codes.NotFound, "gs://no-such-bucket"},
		{"s3://acme/x", codes.InvalidArgument, "gcs_source.bucket_uri"},
		{"", codes.InvalidArgument, "gcs_source.bucket_uri: required"},
	} {
		_, err := e.client.IngestConversations(e.ctx, ingestReq(parent, c.uri), noRetry)
		wantCode(t, err, c.code)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ingest %q: %v, want it to name %q", c.uri, err, c.want)
		}
	}
	_, err := e.client.IngestConversations(e.ctx, ingestReq("projects/x", bucket), noRetry)
	wantCode(t, err, codes.InvalidArgument)
}

func TestBulkAnalyzeAndDataDrivenTraining(t *testing.T) {
	e := newEnv(t, Options{Objects: Transcripts(bucket, 30), MinTrainingConversations: 20})
	e.ingest(t, parent, bucket)

	// Half of the conversations: too few to train on.
	if resp := e.analyze(t, parent, `medium="CHAT"`, 50); resp.GetSuccessfulAnalysisCount() != 15 {
		t.Fatalf("analysis = %v, want 15 analyzed", resp)
	}
	op := e.create(t, parent, "weekly")
	e.clock.Advance(DefaultTrainingTime)
	_, err := op.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.FailedPrecondition)
	if err == nil || !strings.Contains(err.Error(), "15 analyzed conversations") || !strings.Contains(err.Error(), "at least 20") {
		t.Fatalf("training with 15 analyzed conversations: %v, want too few", err)
	}

	// Analyze the rest (only those not analyzed yet): 30 analyzed, each once.
	if resp := e.analyze(t, parent, `-latest_analysis:*`, 100); resp.GetSuccessfulAnalysisCount() != 15 {
		t.Fatalf("second analysis = %v, want the 15 others", resp)
	}
	if n := len(e.conversations(t, parent, "latest_analysis:*")); n != 30 || e.srv.Stats().Analyses[parent] != 30 {
		t.Fatalf("analyzed conversations = %d, analyses = %d, want 30 each", n, e.srv.Stats().Analyses[parent])
	}
	m := e.trained(t, parent, "weekly")
	if got := m.GetTrainingStats().GetAnalyzedConversationsCount(); got != 30 {
		t.Errorf("trainingStats.analyzedConversationsCount = %d, want 30", got)
	}
	if got := m.GetInputDataConfig().GetTrainingConversationsCount(); got != 30 {
		t.Errorf("trainingConversationsCount = %d, want 30", got)
	}

	// A filter the emulator cannot read is refused where data exists, naming the field.
	req := createReq(parent, "bad")
	req.IssueModel.InputDataConfig.Filter = "turn_count > 3"
	_, err = e.client.CreateIssueModel(e.ctx, req, noRetry)
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.client.BulkAnalyzeConversations(e.ctx, &contactcenterinsightspb.BulkAnalyzeConversationsRequest{Parent: parent, AnalysisPercentage: 0}, noRetry)
	wantCode(t, err, codes.InvalidArgument)

	// Where no conversations exist the old synthetic behaviour holds.
	sm := e.trained(t, parent2, "weekly")
	n := sm.GetInputDataConfig().GetTrainingConversationsCount()
	if n != SyntheticTrainingConversations(sm.GetInputDataConfig().GetFilter()) || sm.GetTrainingStats().GetAnalyzedConversationsCount() < n*7/10 {
		t.Errorf("synthetic count %d, training stats = %v", n, sm.GetTrainingStats())
	}
}

func TestCancelledIngestAndAnalysisChangeNothing(t *testing.T) {
	e := newEnv(t, Options{Objects: Transcripts(bucket, 5)})
	op, err := e.client.IngestConversations(e.ctx, ingestReq(parent, bucket), noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cancel(op.Name()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultIngestTime)
	_, err = op.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.Canceled)
	if n := len(e.srv.Conversations(parent)); n != 0 {
		t.Errorf("%d conversations after a cancelled ingest, want 0", n)
	}
}

func TestExportThenImportIntoAnotherProject(t *testing.T) {
	e := newEnv(t, Options{Buckets: []string{"acme-models"}})
	m := e.trained(t, parent, "weekly")
	const uri = "gs://acme-models/weekly.json"
	op, err := e.client.ExportIssueModel(e.ctx, &contactcenterinsightspb.ExportIssueModelRequest{
		Name: m.GetName(), Destination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination_{
			GcsDestination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination{ObjectUri: uri}}}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.Object(uri); ok {
		t.Fatal("the object exists before the export is done")
	}
	e.clock.Advance(DefaultExportTime)
	if _, err := op.Poll(e.ctx, noRetry); err != nil || !op.Done() {
		t.Fatalf("export: done=%v %v", op.Done(), err)
	}
	if md, _ := op.Metadata(); md.GetRequest().GetName() != m.GetName() {
		t.Errorf("export metadata = %v", md)
	}
	if _, ok := e.srv.Object(uri); !ok || e.srv.Stats().Exports[uri] != 1 {
		t.Fatal("no exported object")
	}

	const prod = "projects/prod/locations/us-central1"
	iop, err := e.client.ImportIssueModel(e.ctx, &contactcenterinsightspb.ImportIssueModelRequest{
		Parent: prod, CreateNewModel: true, Source: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource_{
			GcsSource: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource{ObjectUri: uri}}}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.srv.Models(prod)) != 0 {
		t.Fatal("the imported model exists before the import is done")
	}
	e.clock.Advance(DefaultImportTime)
	if _, err := iop.Poll(e.ctx, noRetry); err != nil || !iop.Done() {
		t.Fatalf("import: done=%v %v", iop.Done(), err)
	}
	models := e.srv.Models(prod)
	if len(models) != 1 {
		t.Fatalf("models in %s = %v, want one", prod, models)
	}
	got := models[0]
	if got.GetDisplayName() != "weekly" || got.GetState() != contactcenterinsightspb.IssueModel_UNDEPLOYED || got.GetIssueCount() != m.GetIssueCount() ||
		!strings.HasPrefix(got.GetName(), prod+"/issueModels/") || got.GetName() == m.GetName() {
		t.Errorf("imported model = %v", got)
	}
	if len(got.GetTrainingStats().GetIssueStats()) != len(m.GetTrainingStats().GetIssueStats()) {
		t.Errorf("imported issues = %d, want %d", len(got.GetTrainingStats().GetIssueStats()), len(m.GetTrainingStats().GetIssueStats()))
	}
	for key := range got.GetTrainingStats().GetIssueStats() {
		if !strings.HasPrefix(key, got.GetName()+"/issues/") {
			t.Errorf("imported issue %s is not under the new model", key)
		}
	}
	// The imported model deploys like any other.
	dop, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: got.GetName()}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultDeployTime)
	if _, err := dop.Poll(e.ctx, noRetry); err != nil {
		t.Fatal(err)
	}
	if s := e.state(t, got.GetName()); s != contactcenterinsightspb.IssueModel_DEPLOYED {
		t.Errorf("imported model state = %v", s)
	}
	if st := e.srv.Stats(); st.ModelsImported[prod] != 1 || st.ModelsCreated[prod] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestExportImportErrorsNameTheResource(t *testing.T) {
	e := newEnv(t, Options{Buckets: []string{"gs://acme-models"}})
	m := e.trained(t, parent, "weekly")
	export := func(name, uri string) error {
		_, err := e.client.ExportIssueModel(e.ctx, &contactcenterinsightspb.ExportIssueModelRequest{
			Name: name, Destination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination_{
				GcsDestination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination{ObjectUri: uri}}}, noRetry)
		return err
	}
	importFrom := func(uri string) error {
		_, err := e.client.ImportIssueModel(e.ctx, &contactcenterinsightspb.ImportIssueModelRequest{
			Parent: parent2, Source: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource_{
				GcsSource: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource{ObjectUri: uri}}}, noRetry)
		return err
	}
	for _, c := range []struct {
		err  error
		code codes.Code
		want string
	}{
		{export(m.GetName(), "gs://nope-bucket/m.json"), codes.NotFound, "gs://nope-bucket"},
		{export(parent+"/issueModels/404", "gs://acme-models/m.json"), codes.NotFound, parent + "/issueModels/404"},
		{export(m.GetName(), "gs://acme-models"), codes.InvalidArgument, "gcs_destination.object_uri"},
		{importFrom("gs://acme-models/missing.json"), codes.NotFound, "gs://acme-models/missing.json"},
		{importFrom("gs://nope-bucket/m.json"), codes.NotFound, "gs://nope-bucket"},
	} {
		wantCode(t, c.err, c.code)
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%v: want it to name %q", c.err, c.want)
		}
	}
	e.create(t, parent2, "training")
	err := export(e.srv.Models(parent2)[0].GetName(), "gs://acme-models/m.json")
	wantCode(t, err, codes.FailedPrecondition)
	if err == nil || !strings.Contains(err.Error(), "still being trained") {
		t.Errorf("export of a model in training: %v", err)
	}
	if err := e.srv.PutObject("gs://acme-models/garbage.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, importFrom("gs://acme-models/garbage.json"), codes.InvalidArgument)
}
