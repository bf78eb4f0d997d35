package mlflow

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// OTLP ingestion (POST /v1/traces) names traces inside its protobuf body:
// MLflow files each span under "tr-" + the hex of its OTel trace id, or
// under the span's mlflow.traceRequestId attribute when the span carries
// one (the attribute wins). A trace that already exists takes spans only
// from someone who may write to its experiment, so the gateway reads both.

// otlpRequestIDAttr is the span attribute MLflow reads a trace id from.
const otlpRequestIDAttr = "mlflow.traceRequestId"

var errOTLP = errors.New("malformed OTLP trace export")

// otlpTraceIDs returns the MLflow trace ids an ExportTraceServiceRequest's
// spans would be filed under, each once.
func otlpTraceIDs(body []byte) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	// ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans
	// = 2, ScopeSpans.spans = 2.
	err := eachMessage(body, 1, func(rs []byte) error {
		return eachMessage(rs, 2, func(ss []byte) error {
			return eachMessage(ss, 2, func(span []byte) error {
				return readSpan(span, add)
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readSpan reads a Span's trace_id (1, every one given: protobuf keeps the
// last, the gateway checks all) and attributes (9).
func readSpan(b []byte, add func(string)) error {
	traced := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			traced = true
			add(otelTraceID(v))
		case num == 9 && typ == protowire.BytesType:
			key, value, isString, err := readKeyValue(v)
			if err != nil {
				return err
			}
			if key == otlpRequestIDAttr {
				if !isString {
					// MLflow decodes any value (bytes too) and reads a
					// trace id from it: only a string is read here.
					return fmt.Errorf("%w: the %s attribute must be a string", errOTLP, otlpRequestIDAttr)
				}
				// MLflow's own spans carry it JSON-encoded ("\"tr-…\"").
				add(strings.Trim(value, `"`))
			}
		}
		return nil
	})
	if err == nil && !traced {
		add(otelTraceID(nil)) // MLflow files a span without one under trace 0
	}
	return err
}

// otelTraceID is the MLflow trace id of an OTel trace id, as MLflow makes
// it: the bytes as a big-endian integer, 32 hex digits at least.
func otelTraceID(b []byte) string {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	h := hex.EncodeToString(b)
	h = strings.TrimPrefix(h, "0")
	if len(h) < 32 {
		h = strings.Repeat("0", 32-len(h)) + h
	}
	return "tr-" + h
}

// readKeyValue reads a KeyValue's key (1) and its value (2): every value
// field, merged as protobuf merges them, the oneof's last member winning.
// isString reports whether that member is string_value (1).
func readKeyValue(b []byte) (key, value string, isString bool, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			key = string(v)
		case num == 2 && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num >= 1 && num <= 7 { // string, bool, int, double, array, kvlist, bytes
					isString = num == 1 && typ == protowire.BytesType
					value = ""
					if isString {
						value = string(v)
					}
				}
				return nil
			})
		}
		return nil
	})
	return key, value, isString, err
}

// eachMessage calls fn with each length-delimited field number num of b.
func eachMessage(b []byte, num protowire.Number, fn func([]byte) error) error {
	return eachField(b, func(n protowire.Number, typ protowire.Type, v []byte) error {
		if n == num && typ == protowire.BytesType {
			return fn(v)
		}
		return nil
	})
}

// eachField walks a message's fields; v is a length-delimited field's
// contents (nil for the other wire types, which are skipped).
func eachField(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errOTLP, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errOTLP, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
