package iampolicy

import "testing"

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`{"Action":"s3:GetObject","Effect":"Allow"}`, `{"Effect":"Allow","Action":["s3:GetObject"]}`, true},
		{`{"Action":["s3:GetObject","s3:PutObject"]}`, `{"Action":["s3:PutObject","s3:GetObject"]}`, false},
		{`{"Action":"s3:GetObject"}`, `{"Action":"s3:PutObject"}`, false},
		{`{"Statement":[{"Sid":"a"}]}`, `{"Statement":{"Sid":"a"}}`, true},
		{`not json`, `not json`, false},
	} {
		if got := Equal([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("Equal(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
	if !EqualValues(map[string]any{"Resource": []string{"x"}}, map[string]any{"Resource": "x"}) {
		t.Error("EqualValues: a one-element list is its element")
	}
}
