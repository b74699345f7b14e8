// Package iampolicy compares IAM policy documents as IAM reads them.
package iampolicy

import (
	"encoding/json"
	"reflect"
)

// Equal reports whether two JSON policy documents (or statements) say the
// same: key order does not matter, and a one-element list equals its
// element, as "Action": ["s3:GetObject"] equals "Action": "s3:GetObject".
func Equal(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(va), normalize(vb))
}

// EqualValues is Equal for documents held as Go values.
func EqualValues(a, b any) bool {
	da, errA := json.Marshal(a)
	db, errB := json.Marshal(b)
	return errA == nil && errB == nil && Equal(da, db)
}

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		if len(v) == 1 {
			return normalize(v[0])
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}
