package mlflow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// otlpSpan builds an OTLP Span with a trace id and string attributes.
func otlpSpan(traceID []byte, attrs map[string]string) []byte {
	var span []byte
	span = protowire.AppendTag(span, 1, protowire.BytesType)
	span = protowire.AppendBytes(span, traceID)
	span = protowire.AppendTag(span, 5, protowire.BytesType)
	span = protowire.AppendString(span, "a span")
	span = protowire.AppendTag(span, 7, protowire.Fixed64Type)
	span = protowire.AppendFixed64(span, 1700000000000000000)
	for k, v := range attrs {
		var any, kv []byte
		any = protowire.AppendTag(any, 1, protowire.BytesType)
		any = protowire.AppendString(any, v)
		kv = protowire.AppendTag(kv, 1, protowire.BytesType)
		kv = protowire.AppendString(kv, k)
		kv = protowire.AppendTag(kv, 2, protowire.BytesType)
		kv = protowire.AppendBytes(kv, any)
		span = protowire.AppendTag(span, 9, protowire.BytesType)
		span = protowire.AppendBytes(span, kv)
	}
	return span
}

// otlpExport wraps spans in ScopeSpans, ResourceSpans and the request.
func otlpExport(spans ...[]byte) []byte {
	var scope, resource, req []byte
	for _, s := range spans {
		scope = protowire.AppendTag(scope, 2, protowire.BytesType)
		scope = protowire.AppendBytes(scope, s)
	}
	resource = protowire.AppendTag(resource, 2, protowire.BytesType)
	resource = protowire.AppendBytes(resource, scope)
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendBytes(req, resource)
	return req
}

func TestOTLPTraceIDs(t *testing.T) {
	id := []byte{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
	body := otlpExport(
		otlpSpan(id, nil),
		otlpSpan(id, map[string]string{"other": "x"}),
		otlpSpan([]byte{1, 2}, map[string]string{otlpRequestIDAttr: `"tr-0123456789abcdef0123456789abcdef"`}),
	)
	ids, err := otlpTraceIDs(body)
	require.NoError(t, err)
	assert.Equal(t, []string{"tr-0af7651916cd43dd8448eb211c80319c", "tr-00000000000000000000000000000102", "tr-0123456789abcdef0123456789abcdef"}, ids,
		"each trace once, as MLflow numbers it; the attribute MLflow reads first is read too")

	// MLflow reads the attribute whatever its type (bytes too), and the
	// last of merged values wins: only a string is taken.
	bytesAttr := func(first []byte) []byte {
		var any, kv []byte
		if first != nil {
			any = protowire.AppendTag(any, 1, protowire.BytesType)
			any = protowire.AppendBytes(any, first)
		}
		any = protowire.AppendTag(any, 7, protowire.BytesType) // bytes_value
		any = protowire.AppendBytes(any, []byte(`"tr-0123456789abcdef0123456789abcdef"`))
		kv = protowire.AppendTag(kv, 1, protowire.BytesType)
		kv = protowire.AppendString(kv, otlpRequestIDAttr)
		kv = protowire.AppendTag(kv, 2, protowire.BytesType)
		kv = protowire.AppendBytes(kv, any)
		span := otlpSpan(id, nil)
		span = protowire.AppendTag(span, 9, protowire.BytesType)
		return protowire.AppendBytes(span, kv)
	}
	for name, span := range map[string][]byte{"bytes_value": bytesAttr(nil), "a string, then bytes_value": bytesAttr([]byte(`"tr-mine"`))} {
		_, err := otlpTraceIDs(otlpExport(span))
		assert.ErrorIs(t, err, errOTLP, name)
	}
	// A span without a trace id is MLflow's trace 0.
	ids, err = otlpTraceIDs(otlpExport([]byte{0x2a, 0x01, 'x'}))
	require.NoError(t, err)
	assert.Equal(t, []string{"tr-00000000000000000000000000000000"}, ids)
	// Leading zero bytes do not make another id.
	ids, err = otlpTraceIDs(otlpExport(otlpSpan(append([]byte{0}, id...), nil)))
	require.NoError(t, err)
	assert.Equal(t, []string{"tr-0af7651916cd43dd8448eb211c80319c"}, ids)

	ids, err = otlpTraceIDs(nil)
	require.NoError(t, err)
	assert.Empty(t, ids, "no spans")
	for name, bad := range map[string][]byte{
		"JSON":           []byte(`{"resourceSpans":[]}`),
		"truncated":      body[:len(body)-3],
		"bad length":     {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated span": otlpExport([]byte{0x0a, 0x10, 0x01}),
	} {
		_, err := otlpTraceIDs(bad)
		assert.ErrorIs(t, err, errOTLP, name)
	}
}

func FuzzOTLPTraceIDs(f *testing.F) {
	f.Add(otlpExport(otlpSpan([]byte{1, 2, 3}, map[string]string{otlpRequestIDAttr: "tr-1"})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := otlpTraceIDs(body)
		if err != nil && len(ids) > 0 {
			t.Fatalf("ids with an error: %v", ids)
		}
	})
}

// TestOTLPIntoAnotherTrace: spans sent with one's own experiment in the
// header but another experiment's trace id (or the attribute MLflow reads
// first) are refused; spans of a new trace go on.
func TestOTLPIntoAnotherTrace(t *testing.T) {
	f := newFixture(t)
	f.d.AddTrace(otherTeamTrace, "2")
	hexID := func(tr string) []byte {
		b := make([]byte, 16)
		for i := range b {
			var v byte
			for _, c := range tr[3+2*i : 5+2*i] {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= byte(c - '0')
				default:
					v |= byte(c-'a') + 10
				}
			}
			b[i] = v
		}
		return b
	}
	post := func(user, exp string, body []byte) int {
		code, _ := f.do(user, "POST", "/v1/traces", "application/x-protobuf", string(body), "X-Mlflow-Experiment-Id", exp)
		return code
	}
	fresh := []byte{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}
	assert.Equal(t, 200, post("bob", "2", otlpExport(otlpSpan(fresh, nil))), "a new trace in bob's experiment")
	assert.Equal(t, 200, post("bob", "2", otlpExport(otlpSpan(hexID(otherTeamTrace), nil))), "bob's own trace")
	assert.Equal(t, 403, post("bob", "2", otlpExport(otlpSpan(hexID(recordedTrace), nil))), "a trace of experiment 1, by its id")
	assert.Equal(t, 403, post("bob", "2", otlpExport(otlpSpan(fresh, map[string]string{otlpRequestIDAttr: `"` + recordedTrace + `"`}))),
		"a trace of experiment 1, by the attribute")
	assert.Equal(t, 400, post("bob", "2", []byte(`{"resourceSpans":[]}`)), "not protobuf")
}
