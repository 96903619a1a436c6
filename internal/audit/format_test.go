package audit

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testdata/trail-2026-11 is a trail written by iamd before records named
// only the first digits of the previous chain hash (prev8): three sealed
// zstd segments, each with its index file, and an open segment, 30
// records of the earlier form in all ("prev": the whole hash).
const earlierTrail = "testdata/trail-2026-11"

func TestReadsTheEarlierRecordForm(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, earlierTrail, dir)
	if rep, err := Verify(dir, testKey); err != nil || !rep.OK() || rep.Chains[0].Records != 30 {
		t.Fatalf("the earlier trail: %+v, %v", rep, err)
	}

	// The writer goes on in the new form, in the same open segment.
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	l := openTest(t, dir, now)
	for i := range 10 {
		record(t, l, "123456789012", "GetUser", "dave", now.Add(time.Duration(i)*time.Second))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "845de076671fc5a5", "00000000000000000025.log")
	ls := lines(t, seg)
	if len(ls) != 16 || !bytes.Contains(ls[5], []byte(`"prev":"`)) || !bytes.Contains(ls[6], []byte(`"prev8":"`)) {
		t.Fatalf("the open segment's records 30 and 31:\n%s\n%s", ls[5], ls[6])
	}
	rep, err := Verify(dir, testKey)
	if err != nil || !rep.OK() || rep.Chains[0].Records != 40 {
		t.Fatalf("the mixed trail: %+v, %v", rep, err)
	}

	// Events of both forms are found, in sealed and open segments.
	l = openTest(t, dir, now)
	for _, q := range []struct {
		attr, value string
		want        int
	}{
		{AttrUsername, "alice", 10}, // earlier form, sealed and open segments
		{AttrUsername, "dave", 10},  // new form
		{AttrEventName, "GetUser", 8 + 10},
	} {
		p, err := l.Lookup(Query{Account: "123456789012", Attribute: q.attr, Value: q.value, Max: 50})
		if err != nil || len(p.Events) != q.want {
			t.Errorf("%s=%s: %d events, %v; want %d", q.attr, q.value, len(p.Events), err, q.want)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A changed record of either form is named.
	for _, c := range []struct {
		line int
		want string
	}{
		{4, "record 29 was changed"}, // earlier form (a GetUser)
		{8, "record 33 was changed"}, // new form
	} {
		tampered := t.TempDir()
		copyDir(t, dir, tampered)
		seg := filepath.Join(tampered, "845de076671fc5a5", "00000000000000000025.log")
		ls := lines(t, seg)
		ls[c.line] = bytes.Replace(ls[c.line], []byte(`"GetUser"`), []byte(`"GetRole"`), 1)
		writeLines(t, seg, ls)
		rep, err := Verify(tampered, testKey)
		if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Chains[0].Problems, "\n"), c.want) {
			t.Errorf("record %d changed: %+v, %v; want %q", 25+c.line, rep, err, c.want)
		}
	}
}

func TestRecordPrefix(t *testing.T) {
	var prev [32]byte
	for i := range prev {
		prev[i] = byte(i * 17)
	}
	got := string(appendRecordPrefix(nil, 18446744073709551615, prev))
	if want := `{"seq":18446744073709551615,"prev8":"00112233`; got != want || len(got) != maxRecordPrefix {
		t.Fatalf("prefix %s (%d bytes), want %s (%d)", got, len(got), want, maxRecordPrefix)
	}
	var rec recordLine
	if err := parseHead([]byte(got+`","meta":{"t":1,"a":"","n":"","s":"","u":"","k":"","i":"","ro":false,"res":[]}}`), &rec); err != nil || !rec.follows(prev) {
		t.Fatalf("parsed %+v, %v", rec, err)
	}
	prev[1]++
	if rec.follows(prev) {
		t.Fatal("follows another hash")
	}
}

// FuzzParseHead checks that the head of any line parses without a panic,
// the same way encoding/json reads it where both accept it.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte(`{"seq":1,"prev8":"00112233","meta":{"t":1,"a":"1","n":"GetUser","s":"iam.amazonaws.com","u":"bob","k":"AKIA","i":"x","ro":true,"res":[["AWS::IAM::User","bob"]]}}`))
	f.Add([]byte(`{"seq":2,"prev":"` + strings.Repeat("ab", 32) + `","meta":{"t":-5,"a":"","n":"","s":"","u":"\u00e9","k":"","i":"","ro":false,"res":[]}}`))
	f.Fuzz(func(t *testing.T, head []byte) {
		var fast, slow recordLine
		err := parseHead(head, &fast)
		if err != nil || json.Unmarshal(head, &slow) != nil {
			return
		}
		for _, r := range []*recordLine{&fast, &slow} {
			if len(r.Meta.Res) == 0 {
				r.Meta.Res = nil // [] reads as no resources either way
			}
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("parseHead %+v, encoding/json %+v", fast, slow)
		}
	})
}
