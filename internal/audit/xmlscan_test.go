package audit

import (
	"bytes"
	"testing"
)

// dump writes a tree in a form that compares every name, text and child.
func dump(b *bytes.Buffer, n *xmlNode) {
	if n == nil {
		b.WriteString("nil")
		return
	}
	b.WriteString("<" + n.name + ">" + n.text.String())
	for _, c := range n.children {
		dump(b, c)
	}
	b.WriteString("</>")
}

var xmlSeeds = []string{
	`<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User><Path>/</Path><UserName>bob</UserName><UserId>AIDA0000</UserId><Arn>arn:aws:iam::111122223333:user/bob</Arn><CreateDate>2026-12-07T04:00:00Z</CreateDate></User></CreateUserResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateUserResponse>`,
	"<R>\n  <X a=\"1\" b=\"2\">t &lt;&amp;&gt; &quot;&apos;</X>\n  <Tags><member><Key>k</Key><Value>v</Value></member></Tags><E/><F /></R>\n",
	`<?xml version="1.0" encoding="UTF-8"?><R><X>1</X></R>`,
	`<R><X><![CDATA[<x>]]></X><!-- c --></R>`,
	`<R><X>&#65;</X></R>`,
	`<R><X>é</X></R>`,
	`<R><X></Y></R>`,
	`<R><X>`,
	`<a:R xmlns:a="u"><a:X>1</a:X></a:R>`,
	`<R x='1'/>`,
	`<R>]]></R>`,
	`text<R/>`,
	`<R/><S/>`,
	``,
}

// TestScanXML checks that the fast reader builds the tree encoding/xml
// does for iamd's documents, and declines the rest.
func TestScanXML(t *testing.T) {
	for i, s := range xmlSeeds {
		root, ok := scanXML([]byte(s))
		if i < 2 && !ok {
			t.Errorf("seed %d: declined %q", i, s)
		}
		if ok {
			var got, want bytes.Buffer
			dump(&got, root)
			dump(&want, decodeXML([]byte(s)))
			if got.String() != want.String() {
				t.Errorf("seed %d %q:\n got %s\nwant %s", i, s, got.String(), want.String())
			}
		}
	}
}

// FuzzScanXML checks that, where the fast reader accepts a document, it
// builds the tree encoding/xml does.
func FuzzScanXML(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		root, ok := scanXML(body)
		if !ok {
			return
		}
		var got, want bytes.Buffer
		dump(&got, root)
		dump(&want, decodeXML(body))
		if got.String() != want.String() {
			t.Fatalf("%q:\n got %s\nwant %s", body, got.String(), want.String())
		}
	})
}

// BenchmarkXMLTree compares the fast reader with encoding/xml on a
// CreateUser response.
func BenchmarkXMLTree(b *testing.B) {
	body := []byte(xmlSeeds[0])
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			scanXML(body)
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeXML(body)
		}
	})
}
