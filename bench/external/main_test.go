package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the benchmark's upstream and
// bare proxies, which the benchmark starts by running itself.
func TestMain(m *testing.M) {
	if serveChild(os.Args) {
		return
	}
	os.Exit(m.Run())
}

// wrk 4.1.0's output, as Debian's package prints it.
const wrkOutput = `Running 4s test @ http://127.0.0.1:40123/api/2.0/mlflow/experiments/get?experiment_id=1
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.41ms    1.03ms  19.04ms   87.48%
    Req/Sec    13.35k     1.01k   14.52k    80.00%
  Latency Distribution
     50%    2.18ms
     75%    2.70ms
     90%    3.41ms
     99%    6.93ms
  53155 requests in 4.00s, 19.36MB read
%sRequests/sec:  13281.19
Transfer/sec:      4.84MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(strings.Replace(wrkOutput, "%s", "", 1), 200)
	require.NoError(t, err)
	assert.InDelta(t, 13281.19, r.rps, 0.01)
	assert.Equal(t, 2180*time.Microsecond, r.p50)
	assert.Equal(t, 6930*time.Microsecond, r.p99)

	_, err = parseWrk(strings.Replace(wrkOutput, "%s", "  Non-2xx or 3xx responses: 12\n", 1), 200)
	assert.ErrorContains(t, err, "12 of 53155 answers were not 2xx")
	_, err = parseWrk(strings.Replace(wrkOutput, "%s", "  Non-2xx or 3xx responses: 53155\n", 1), 403)
	assert.NoError(t, err, "every answer refused, as wanted")
	_, err = parseWrk(strings.Replace(wrkOutput, "%s", "  Non-2xx or 3xx responses: 53000\n", 1), 403)
	assert.ErrorContains(t, err, "155 of 53155 answers were 2xx")
	_, err = parseWrk(strings.Replace(wrkOutput, "%s", "  Socket errors: connect 0, read 3, write 0, timeout 0\n", 1), 200)
	assert.ErrorContains(t, err, "Socket errors")
	_, err = parseWrk("wrk: command not understood", 200)
	assert.Error(t, err)
}

// TestExternalRuns: the whole benchmark, one short round: every process
// starts, every user is answered as it should be (the run fails on any
// unexpected status), and the report names each. Needs wrk and a Go
// toolchain; figures are not checked.
func TestExternalRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and runs wrk")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("skipping: needs wrk (apt-get install wrk)")
	}
	root, err := os.Getwd()
	require.NoError(t, err)
	t.Chdir(root + "/../..") // the module's root, where examples/gateway is
	var out bytes.Buffer
	require.NoError(t, run(config{rounds: 1, duration: time.Second, connections: 4}, &out))
	for _, want := range []string{"| token |", "| session |", "| bearer |", "| refused (403) |", "| no credentials (401) |"} {
		assert.Contains(t, out.String(), want)
	}
}
