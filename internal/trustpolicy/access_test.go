package trustpolicy

import (
	"strings"
	"testing"
)

func TestEvaluateAccess(t *testing.T) {
	s3 := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::app-data"},
	  {"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::app-data/*"}]}`
	for _, tc := range []struct {
		name             string
		policies         map[string]string
		action, resource string
		allowed, cond    bool
		reason           string
	}{
		{"allowed", map[string]string{"irsa-s3-app-data": s3}, "s3:PutObject", "arn:aws:s3:::app-data/x", true, false, `statement "Objects"`},
		{"action in another case", map[string]string{"p": s3}, "S3:getobject", "arn:aws:s3:::app-data/x", true, false, "allowed"},
		{"another bucket", map[string]string{"irsa-s3-app-data": s3}, "s3:PutObject", "arn:aws:s3:::other/x", false, false, "no statement of the role's policies (irsa-s3-app-data) allows s3:PutObject on arn:aws:s3:::other/x"},
		{"not an allowed action", map[string]string{"p": s3}, "s3:DeleteObject", "arn:aws:s3:::app-data/x", false, false, "no statement"},
		{"explicit deny wins", map[string]string{"a": s3, "b": `{"Statement":{"Sid":"NoWrites","Effect":"Deny","Action":"s3:Put*","Resource":"*"}}`},
			"s3:PutObject", "arn:aws:s3:::app-data/x", false, false, `denied explicitly by policy b, statement "NoWrites"`},
		{"conditional allow", map[string]string{"p": `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`},
			"s3:GetObject", "arn:aws:s3:::x/y", true, true, "if its conditions hold"},
		{"NotResource", map[string]string{"p": `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::secret/*"}]}`},
			"s3:GetObject", "arn:aws:s3:::secret/k", false, false, "no statement"},
		{"URL-encoded, as IAM returns it", map[string]string{"p": "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sqs%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"},
			"sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", true, false, "statement 0"},
	} {
		got, err := EvaluateAccess(tc.policies, tc.action, tc.resource)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Allowed != tc.allowed || got.Conditional != tc.cond || !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: %+v, want allowed %v conditional %v and a reason with %q", tc.name, got, tc.allowed, tc.cond, tc.reason)
		}
	}
	if _, err := EvaluateAccess(map[string]string{"bad": "{"}, "s3:GetObject", "*"); err == nil || !strings.Contains(err.Error(), "policy bad") {
		t.Errorf("invalid policy: %v", err)
	}
}
