package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iamd/iamd/internal/store"
)

// BenchCommitParallel measures durable single-record commits from 1, 4, 16
// and 64 concurrent callers, each commit creating a record of its own; it
// shows how well the backend groups concurrent commits. It reports commits/s
// alongside ns/op (which is wall time per commit, not latency).
func BenchCommitParallel(b *testing.B, be Backend) {
	for _, g := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) { benchCommit(b, be, g) })
	}
}

func benchCommit(b *testing.B, be Backend, goroutines int) {
	s := be.New(b)
	data := sampleDoc(0)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				op := store.Op{Type: store.Put, Kind: "user", Account: "111122223333",
					Key: "user" + strconv.FormatInt(i, 10), Expect: store.Absent, Data: data}
				if _, err := s.Commit(context.Background(), []store.Op{op}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchLoad measures Load of n records of about 300 bytes of JSON each.
func BenchLoad(b *testing.B, be Backend, n int) {
	s := be.New(b)
	const perBatch = 1000
	for i := 0; i < n; i += perBatch {
		ops := make([]store.Op, 0, perBatch)
		for j := i; j < min(i+perBatch, n); j++ {
			ops = append(ops, store.Op{Type: store.Put, Kind: "user", Account: "111122223333",
				Key: fmt.Sprintf("user%07d", j), Expect: store.Absent, Data: sampleDoc(j)})
		}
		mustCommit(b, s, ops...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		count := 0
		if _, err := s.Load(context.Background(), func(store.Record) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("loaded %d records, want %d", count, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// sampleDoc returns a user document of about 300 bytes.
func sampleDoc(i int) []byte {
	return fmt.Appendf(nil, `{"UserName":"user%07d","UserId":"AIDA%016d","Arn":"arn:aws:iam::111122223333:user/engineering/user%07d",`+
		`"Path":"/engineering/","CreateDate":"2024-05-01T12:00:00Z","PermissionsBoundary":"",`+
		`"Tags":[{"Key":"team","Value":"platform"},{"Key":"cost-center","Value":"cc-%04d"}],"Groups":["developers","oncall"]}`,
		i, i, i, i%10000)
}
