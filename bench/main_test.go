package main

import (
	"testing"
	"time"
)

// TestBenchRuns: the benchmark runs end to end at a small size (its
// figures are not checked: no test asserts a duration).
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway and a provider")
	}
	if err := run(config{requests: 200, duration: 5 * time.Second, concurrency: 4, latencyN: 20, artifactMiB: 1}); err != nil {
		t.Fatal(err)
	}
}
