package server

import "runtime"

// minProcs is the fewest Ps (runtime.GOMAXPROCS) Run serves with. The
// store's commits and the audit trail's background fsyncs block the
// thread that makes them, and the Go runtime gives that thread's P to the
// other goroutines only once its monitor notices, which under steady load
// is up to 10 ms later: with one P (one CPU, or a container limited to
// one), every fsync stalled every request for its whole duration, which
// halved GetUser's and CreateUser's throughput on one core (see
// docs/benchmarks.md, "Request path vs floor"). With a second P, requests
// go on meanwhile; when both have work they share the CPU.
const minProcs = 2

// ensureProcs raises GOMAXPROCS to n if it is lower; an explicit
// GOMAXPROCS in the environment is left alone (Run's caller checks). Only
// raising it keeps the runtime's own updates from the CPU limit where it
// is n or more.
func ensureProcs(n int) {
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
}
