// Package cputime reads the CPU time the process has used, for benchmarks
// on a shared machine: CPU time per operation is not inflated by other
// load as wall-clock time is, and it counts the work of every goroutine,
// background ones included. It is not for the server's own metrics
// (prometheus/client_golang's process collector reports those).
package cputime
