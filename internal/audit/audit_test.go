package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamd/iamd/internal/uuid"
)

var testKey = [][]byte{bytes.Repeat([]byte{7}, 32)}

func openTest(t *testing.T, dir string, now time.Time) *Log {
	t.Helper()
	l, err := Open(Options{Dir: dir, Keys: testKey, Now: func() time.Time { return now }, DigestEvery: 10, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func record(t *testing.T, l *Log, account, name, user string, at time.Time) *Event {
	t.Helper()
	ev := &Event{
		EventTime: FormatTime(at), EventSource: SourceIAM, EventName: name, AWSRegion: "us-east-1",
		RecipientAccountID: account, UserIdentity: UserIdentity{Type: "IAMUser", UserName: user, AccessKeyID: "AKIA" + user},
		Username: user, ReadOnly: ReadOnly(SourceIAM, name),
		Resources: []Resource{{Type: "AWS::IAM::User", Name: "target-" + user}},
	}
	if err := l.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// segmentPath returns the chain's only segment.
func segmentPath(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*", "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, p := range m {
		if filepath.Base(p) != digestsFile {
			segs = append(segs, p)
		}
	}
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	return segs[0]
}

// lines reads a segment's records (up to the preallocated zeros).
func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if z := bytes.IndexByte(data, 0); z >= 0 {
		data = data[:z]
	}
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReopenLookup(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := openTest(t, dir, t0)
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i%3), t0.Add(time.Duration(i)*time.Second))
		}()
	}
	wg.Wait()
	record(t, l, "222222222222", "CreateUser", "other", t0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if got := rep.Chains[0].Records; got != 26 {
		t.Fatalf("records = %d", got)
	}

	// Reopening continues the same chain and the index is rebuilt.
	l = openTest(t, dir, t0)
	chain := l.Chain()
	last := record(t, l, "111111111111", "CreateUser", "u1", t0.Add(time.Minute))
	tests := []struct {
		name  string
		q     Query
		count int
	}{
		{"all of an account", Query{Account: "111111111111", Max: 50}, 26},
		{"other account", Query{Account: "222222222222", Max: 50}, 1},
		{"unknown account", Query{Account: "333333333333", Max: 50}, 0},
		{"by user", Query{Account: "111111111111", Attribute: AttrUsername, Value: "u1", Max: 50}, 9},
		{"by name", Query{Account: "111111111111", Attribute: AttrEventName, Value: "CreateUser", Max: 50}, 1},
		{"read only", Query{Account: "111111111111", Attribute: AttrReadOnly, Value: "false", Max: 50}, 1},
		{"by resource", Query{Account: "111111111111", Attribute: AttrResourceName, Value: "target-u2", Max: 50}, 8},
		{"by key", Query{Account: "111111111111", Attribute: AttrAccessKeyID, Value: "AKIAu0", Max: 50}, 9},
		{"by event ID", Query{Account: "111111111111", Attribute: AttrEventID, Value: last.EventID, Max: 50}, 1},
		{"event ID of another account", Query{Account: "222222222222", Attribute: AttrEventID, Value: last.EventID, Max: 50}, 0},
		{"time range", Query{Account: "111111111111", Start: t0.Add(5 * time.Second), End: t0.Add(9 * time.Second), Max: 50}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := l.Lookup(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != tc.count {
				t.Fatalf("got %d events, want %d", len(p.Events), tc.count)
			}
			for i := 1; i < len(p.Events); i++ {
				if p.Events[i].Time.After(p.Events[i-1].Time) {
					t.Fatalf("not newest first at %d", i)
				}
			}
			for _, f := range p.Events {
				var ev Event
				if err := json.Unmarshal(f.JSON, &ev); err != nil || ev.EventID != f.EventID {
					t.Fatalf("event JSON %s: %v", f.JSON, err)
				}
			}
		})
	}

	// Pagination walks every event once, newest first.
	seen := map[string]bool{}
	q := Query{Account: "111111111111", Max: 4}
	for pages := 0; ; pages++ {
		p, err := l.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Events {
			if seen[f.EventID] {
				t.Fatalf("event %s twice", f.EventID)
			}
			seen[f.EventID] = true
		}
		if p.NextToken == "" {
			break
		}
		q.Token = p.NextToken
	}
	if len(seen) != 26 {
		t.Fatalf("paged through %d events", len(seen))
	}
	if _, err := l.Lookup(Query{Account: "111111111111", Attribute: AttrUsername, Value: "u1", Token: q.Token}); err != ErrInvalidToken {
		t.Fatalf("token of another query: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, testKey)
	if err != nil || !rep.OK() || len(rep.Chains) != 1 || rep.Chains[0].Chain != chain || rep.Chains[0].Records != 27 {
		t.Fatalf("verify after reopen: %v %+v", err, rep)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, seg string)
		want   string
	}{
		{"changed record", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			ls[3] = bytes.Replace(ls[3], []byte(`"GetUser"`), []byte(`"GetRole"`), 1)
			writeLines(t, seg, ls)
		}, "record 4 was changed"},
		{"changed newest record", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			n := len(ls) - 1
			ls[n] = bytes.Replace(ls[n], []byte(`"GetUser"`), []byte(`"GetRole"`), 1)
			writeLines(t, seg, ls)
		}, "does not match the signed head"},
		{"removed record", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			writeLines(t, seg, append(ls[:5:5], ls[6:]...))
		}, "record 6 is missing"},
		{"reordered records", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			ls[7], ls[8] = ls[8], ls[7]
			writeLines(t, seg, ls)
		}, "record 8 is missing or out of order"},
		{"truncated newest records", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			writeLines(t, seg, ls[:len(ls)-2])
		}, "the newest records 24 to 25 were removed"},
		{"truncated mid-record", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			last := ls[len(ls)-1]
			writeLines(t, seg, append(ls[:len(ls)-1:len(ls)-1], last[:len(last)/2]))
		}, "the newest records 25 to 25 were removed"},
		{"truncated below a digest", func(t *testing.T, seg string) {
			ls := lines(t, seg)
			writeLines(t, seg, ls[:15])
			// Also roll the head back to an empty one.
			if err := os.Remove(filepath.Join(filepath.Dir(seg), headFile)); err != nil {
				t.Fatal(err)
			}
		}, "records 16 to 20 were removed (truncated): digest 2"},
		{"emptied", func(t *testing.T, seg string) {
			writeLines(t, seg, nil)
		}, "were removed"},
		{"digest changed", func(t *testing.T, seg string) {
			p := filepath.Join(filepath.Dir(seg), digestsFile)
			data, _ := os.ReadFile(p)
			data = bytes.Replace(data, []byte(`"count":10`), []byte(`"count":9`), 1)
			os.WriteFile(p, data, 0o600)
		}, "digest 1 has an invalid signature"},
		{"digest removed", func(t *testing.T, seg string) {
			p := filepath.Join(filepath.Dir(seg), digestsFile)
			data, _ := os.ReadFile(p)
			_, rest, _ := bytes.Cut(data, []byte("\n"))
			os.WriteFile(p, rest, 0o600)
		}, "digest 1 does not chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			l := openTest(t, dir, t0)
			for i := range 25 {
				record(t, l, "111111111111", "GetUser", "u", t0.Add(time.Duration(i)*time.Second))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, segmentPath(t, dir))
			rep, err := Verify(dir, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			all := strings.Join(rep.Chains[0].Problems, "\n")
			if !strings.Contains(all, tc.want) {
				t.Fatalf("problems:\n%s\nwant %q", all, tc.want)
			}
			// A server does not continue a chain that fails verification.
			l = openTest(t, dir, t0)
			defer l.Close()
			if l.Chain() == rep.Chains[0].Chain {
				t.Fatal("resumed a tampered chain")
			}
		})
	}
}

func TestRequestParameters(t *testing.T) {
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"simple", url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"bob"}}, `{"userName":"bob"}`},
		{"none", url.Values{"Action": {"ListUsers"}}, `null`},
		{"password hidden", url.Values{"UserName": {"bob"}, "Password": {"hunter2"}}, `{"password":"HIDDEN_DUE_TO_SECURITY_REASONS","userName":"bob"}`},
		{"reset flag kept", url.Values{"PasswordResetRequired": {"true"}}, `{"passwordResetRequired":"true"}`},
		{"mfa codes hidden", url.Values{"AuthenticationCode1": {"123456"}, "AuthenticationCode2": {"654321"}}, `{"authenticationCode1":"HIDDEN_DUE_TO_SECURITY_REASONS","authenticationCode2":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"tags list", url.Values{"Tags.member.2.Key": {"b"}, "Tags.member.2.Value": {"2"}, "Tags.member.1.Key": {"a"}, "Tags.member.1.Value": {"1"}}, `{"tags":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}`},
		{"saml hidden", url.Values{"SAMLAssertion": {"PHNhbWw+"}, "RoleArn": {"arn:aws:iam::1:role/r"}}, `{"roleArn":"arn:aws:iam::1:role/r","sAMLAssertion":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"web identity token hidden", url.Values{"WebIdentityToken": {"eyJ"}}, `{"webIdentityToken":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"private key hidden", url.Values{"PrivateKey": {"-----BEGIN"}, "CertificateBody": {"cert"}}, `{"certificateBody":"cert","privateKey":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(RequestParameters(tc.form)); got != tc.want {
				t.Fatalf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestResponseElements(t *testing.T) {
	tests := []struct {
		name, xml, want string
	}{
		{"access key secret hidden", `<CreateAccessKeyResponse xmlns="x"><CreateAccessKeyResult><AccessKey><UserName>bob</UserName><AccessKeyId>AKIA1</AccessKeyId><Status>Active</Status><SecretAccessKey>s3cr3t</SecretAccessKey></AccessKey></CreateAccessKeyResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateAccessKeyResponse>`,
			`{"accessKey":{"userName":"bob","accessKeyId":"AKIA1","status":"Active","secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`},
		{"sts credentials hidden", `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>x</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2025-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`,
			`{"credentials":{"accessKeyId":"ASIA1","secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS","sessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS","expiration":"2025-01-01T00:00:00Z"}}`},
		{"virtual mfa seed hidden", `<R><CreateVirtualMFADeviceResult><VirtualMFADevice><SerialNumber>arn</SerialNumber><Base32StringSeed>ABC</Base32StringSeed><QRCodePNG>png</QRCodePNG></VirtualMFADevice></CreateVirtualMFADeviceResult></R>`,
			`{"virtualMFADevice":{"serialNumber":"arn","base32StringSeed":"HIDDEN_DUE_TO_SECURITY_REASONS","qRCodePNG":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`},
		{"list", `<R><ListResult><Users><member><UserName>a</UserName></member><member><UserName>b</UserName></member></Users></ListResult></R>`,
			`{"users":[{"userName":"a"},{"userName":"b"}]}`},
		{"no result", `<DeleteUserResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>`, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ResponseElements([]byte(tc.xml))); got != tc.want {
				t.Fatalf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// BenchmarkOpen measures a start: indexing and verifying 100,000 events
// (about 1 KB each, as API calls are).
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	t0 := time.Now()
	l, err := Open(Options{Dir: dir, Keys: testKey, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100000
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				ev := &Event{
					EventTime: FormatTime(t0.Add(time.Duration(i) * time.Millisecond)), EventSource: SourceIAM, EventName: "GetUser",
					AWSRegion: "us-east-1", RecipientAccountID: "123456789012", SourceIPAddress: "127.0.0.1",
					UserAgent:         strings.Repeat("aws-cli/2 ", 20),
					UserIdentity:      UserIdentity{Type: "IAMUser", UserName: fmt.Sprintf("user%d", i%500), AccessKeyID: fmt.Sprintf("AKIA%016d", i%700), ARN: "arn:aws:iam::123456789012:user/u", AccountID: "123456789012"},
					RequestParameters: json.RawMessage(fmt.Sprintf(`{"userName":"target%d"}`, i%1000)),
					Resources:         []Resource{{Type: "AWS::IAM::User", Name: fmt.Sprintf("target%d", i%1000)}},
					Username:          fmt.Sprintf("user%d", i%500),
				}
				if err := l.Record(context.Background(), ev); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		l, err := Open(Options{Dir: dir, Keys: testKey, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/event")
		p, err := l.Lookup(Query{Account: "123456789012", Attribute: AttrResourceName, Value: "target7", Max: 50})
		if err != nil || len(p.Events) != 50 {
			b.Fatalf("lookup: %v %d", err, len(p.Events))
		}
		l.Close()
	}
}

func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	ev := &Event{
		EventVersion: EventVersion, EventTime: "2025-01-02T03:04:05Z", EventSource: SourceSTS, EventName: "AssumeRole",
		AWSRegion: "eu-west-1", SourceIPAddress: "10.0.0.1", UserAgent: "ua \"quoted\" \\ \n\t\x01 é \u2028 <&>",
		ErrorCode: "AccessDenied", ErrorMessage: "no", RequestParameters: json.RawMessage(`{"roleArn":"a"}`),
		ResponseElements: json.RawMessage(`null`), AdditionalEventData: json.RawMessage(`{"x":1}`),
		RequestID: "r", EventID: uuid.New(), ReadOnly: true, EventType: TypeAPICall, ManagementEvent: true,
		RecipientAccountID: "123456789012", EventCategory: "Management",
		UserIdentity: UserIdentity{Type: "AssumedRole", PrincipalID: "AROA:s", ARN: "arn", AccountID: "1", AccessKeyID: "ASIA",
			SessionContext: &SessionContext{SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: "AROA", ARN: "r", AccountID: "1", UserName: "role"},
				Attributes: SessionAttributes{CreationDate: "2025-01-01T00:00:00Z", MFAAuthenticated: "false"}, SourceIdentity: "me"}},
	}
	var got, want any
	if err := json.Unmarshal(appendEvent(nil, ev), &got); err != nil {
		t.Fatal(err)
	}
	std, _ := json.Marshal(ev)
	_ = json.Unmarshal(std, &want)
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("appendEvent:\n%s\nencoding/json:\n%s", g, w)
	}
}

// TestSegmentRollover writes across many small segments, with and without
// fsync, concurrently, and checks that the chain verifies and every event
// is found again, before and after reopening.
func TestSegmentRollover(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, DigestEvery: 50,
				SegmentBytes: 4096, NoSync: noSync, SyncInterval: time.Millisecond}
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			const n = 300
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i%7), t0)
				}()
			}
			wg.Wait()
			if got := countEvents(t, l); got != n {
				t.Fatalf("lookup before close: %d events, want %d", got, n)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "*", "0*"+segmentExt+"*"))
			if len(segs) < 10 {
				t.Fatalf("%d segments, want many", len(segs))
			}
			rep, err := Verify(dir, testKey)
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %+v", err, rep)
			}
			l, err = Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got := countEvents(t, l); got != n {
				t.Fatalf("lookup after reopening: %d events, want %d", got, n)
			}
		})
	}
}

// TestLongRecords writes records much longer than the others, several
// times the segment size, between ordinary ones, and reads every record
// back intact, before and after reopening.
func TestLongRecords(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, SegmentBytes: 8192, NoSync: true, SyncInterval: time.Millisecond}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 200<<10)
	names := []string{"GetUser", "CreateUser", "GetUser", "GetUser", "CreateUser", "GetUser"}
	for i, name := range names {
		ev := &Event{EventTime: FormatTime(t0), EventSource: SourceIAM, EventName: name, AWSRegion: "us-east-1",
			RecipientAccountID: "111111111111", UserIdentity: UserIdentity{Type: "IAMUser", UserName: "u"}}
		if name == "CreateUser" {
			ev.RequestParameters = json.RawMessage(fmt.Sprintf(`{"userName":"%s%d"}`, long, i))
		}
		if err := l.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Log) {
		t.Helper()
		p, err := l.Lookup(Query{Account: "111111111111", Max: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != len(names) {
			t.Fatalf("%d events, want %d", len(p.Events), len(names))
		}
		for i, f := range p.Events {
			want := names[len(names)-1-i]
			ev := f.JSON
			if !bytes.Contains(ev, []byte(`"eventName":"`+want+`"`)) || (want == "CreateUser") != bytes.Contains(ev, []byte(long)) {
				t.Fatalf("event %d (%s) read back wrong: %.200s", i, want, ev)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(dir, testKey); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l)
}

// TestStagedRecordsSurviveAKill copies the audit directory while records
// are staged but not yet in the segment (as a killed process leaves it),
// and opens the copy: the staged records are moved to the segment, found,
// and the chain verifies; the next records continue it.
func TestStagedRecordsSurviveAKill(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true, DigestEvery: 1000}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.stage == nil {
		t.Skip("no staging area on this platform")
	}
	for i := range 5 {
		record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i), t0)
	}
	// The first five reach the segment and the signed head; then the
	// background writes stop.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		done := l.flushedSeq == 5 && l.headSeq == 5 && l.headTimer == nil
		if done {
			l.headLag = time.Hour
		}
		l.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first records never reached the segment")
		}
	}
	for i := 5; i < 12; i++ {
		record(t, l, "111111111111", "GetUser", fmt.Sprintf("u%d", i), t0)
	}
	l.mu.Lock()
	staged := l.seq - l.flushedSeq
	killed := t.TempDir()
	copyDir(t, dir, killed)
	l.mu.Unlock()
	if staged != 7 {
		t.Fatalf("%d records staged, want 7", staged)
	}
	defer l.Close()

	// Before any restart, verify and Scan see the staged records too.
	rep, err := Verify(killed, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != 12 || !strings.Contains(strings.Join(rep.Chains[0].Warnings, "\n"), "records 6 to 12 are in the staging file") {
		t.Fatalf("verify before recovery: %v %+v", err, rep)
	}
	scanned := 0
	if err := Scan(killed, ScanFilter{}, func([]byte) error { scanned++; return nil }); err != nil || scanned != 12 {
		t.Fatalf("scan before recovery: %d events, %v", scanned, err)
	}
	// The next start moves them to the segment, whether it fsyncs each
	// record or stages them too.
	for _, noSync := range []bool{true, false} {
		restarted := t.TempDir()
		copyDir(t, killed, restarted)
		opts.Dir, opts.NoSync = restarted, noSync
		k, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := k.Lookup(Query{Account: "111111111111", Max: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 12 {
			t.Fatalf("NoSync=%v: %d events after recovery, want 12", noSync, len(p.Events))
		}
		record(t, k, "111111111111", "GetUser", "after", t0)
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(restarted, testKey)
		if err != nil || !rep.OK() || rep.Chains[0].Records != 13 || len(rep.Chains[0].Warnings) > 0 {
			t.Fatalf("NoSync=%v: verify after recovery: %v %+v", noSync, err, rep)
		}
	}
}

// copyDir copies the regular files of a directory tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStagingWraps stages several times the staging file's size from
// concurrent writers while batches are written out behind them, across
// segments, and checks that the chain verifies and every event is found,
// before and after reopening.
func TestStagingWraps(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Dir: dir, Keys: testKey, Now: func() time.Time { return t0 }, NoSync: true, SyncInterval: 5 * time.Millisecond, SegmentBytes: 3 << 20, stageBytes: 64 << 10}
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("p", 2000)
	const writers, each = 8, 1500 // ~3 KB records: ~36 MB through a 64 KiB staging file
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := &Event{EventSource: SourceIAM, EventName: "CreateUser", RecipientAccountID: "111111111111",
					RequestParameters: json.RawMessage(fmt.Sprintf(`{"userName":"u%d-%d","pad":"%s"}`, w, i, pad))}
				if err := l.Record(context.Background(), ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := countEvents(t, l); got != writers*each {
		t.Fatalf("%d events, want %d", got, writers*each)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(dir, testKey); err != nil || !rep.OK() || rep.Chains[0].Records != writers*each {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	l, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := countEvents(t, l); got != writers*each {
		t.Fatalf("%d events after reopening, want %d", got, writers*each)
	}
}

// countEvents pages through every event of account 111111111111.
func countEvents(t *testing.T, l *Log) int {
	t.Helper()
	total := 0
	q := Query{Account: "111111111111", Max: 50}
	for {
		p, err := l.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		total += len(p.Events)
		if p.NextToken == "" {
			return total
		}
		q.Token = p.NextToken
	}
}
