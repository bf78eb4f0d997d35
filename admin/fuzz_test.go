package admin

import (
	"encoding/json"
	"testing"
)

// FuzzObjectFields: any body gives fields or an error, never a panic; the
// fields read are the object's, each once.
func FuzzObjectFields(f *testing.F) {
	f.Add(`{"username":"alice","password":"x"}`)
	f.Add(`{"a":1,"a":2}`)
	f.Add(`[1]`)
	f.Add(`{"a":{"b":[1,2,{"c":null}]}} {}`)
	f.Fuzz(func(t *testing.T, body string) {
		fields, err := objectFields([]byte(body))
		if err != nil {
			return
		}
		var whole map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &whole) != nil {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		if len(whole) != len(fields) {
			t.Fatalf("%q: %d fields, want %d", body, len(fields), len(whole))
		}
	})
}
