package role

import (
	"strings"
	"testing"
)

func TestDefaultRoleName(t *testing.T) {
	if got := DefaultRoleName("payments", "api"); got != "irsa-payments-api" {
		t.Errorf("short: %q", got)
	}
	ns := "a-very-long-namespace-name-for-testing-the-role-name-limit"
	a, b := DefaultRoleName(ns, "app-one"), DefaultRoleName(ns, "app-two")
	// The first 55 characters of "irsa-NS-app-one", "-" and the first 8
	// hex digits of its SHA-256 (sha256sum).
	if want := "irsa-a-very-long-namespace-name-for-testing-the-role-na-e9074927"; a != want {
		t.Errorf("long name %q, want %q", a, want)
	}
	if len(b) != MaxRoleNameLength || b[:56] != a[:56] || a == b {
		t.Errorf("long names %q and %q: want %d characters, a common prefix and distinct hashes", a, b, MaxRoleNameLength)
	}
}

func TestValidate(t *testing.T) {
	good := Options{Namespace: "payments", ServiceAccount: "api", S3Bucket: "data"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   []string
	}{
		{"nothing", func(o *Options) { *o = Options{} }, []string{"namespace: \"\"", "service-account: \"\"", "permissions: give at least one of --policy-arn, --policy-file or --s3-bucket"}},
		{"names", func(o *Options) { o.Namespace, o.ServiceAccount = "Payments", "api_1" }, []string{"namespace: \"Payments\"", "service-account: \"api_1\""}},
		{"role name", func(o *Options) { o.RoleName = "has space" }, []string{"role-name: \"has space\""}},
		{"role name length", func(o *Options) { o.RoleName = strings.Repeat("r", 65) }, []string{"role-name:"}},
		{"issuer", func(o *Options) { o.Issuer = "http://oidc.example.com" }, []string{"issuer: issuer \"http://oidc.example.com\" must use https"}},
		{"policy arn", func(o *Options) { o.PolicyARNs = []string{"ReadOnlyAccess"} }, []string{"policy-arn: \"ReadOnlyAccess\" is not a managed policy ARN"}},
		{"policy not JSON", func(o *Options) { o.PolicyDocument = "Version: 2012-10-17" }, []string{"policy-file: not a JSON policy document"}},
		{"policy without version", func(o *Options) { o.PolicyDocument = `{"Statement":[{}]}` }, []string{`policy-file: the policy has no "Version"`}},
		{"policy old version", func(o *Options) { o.PolicyDocument = `{"Version":"2012-10-18","Statement":[{}]}` }, []string{`policy-file: the policy's Version is "2012-10-18"`}},
		{"policy without statement", func(o *Options) { o.PolicyDocument = `{"Version":"2012-10-17"}` }, []string{`policy-file: the policy has no "Statement"`}},
		{"policy empty statement", func(o *Options) { o.PolicyDocument = `{"Version":"2012-10-17","Statement":[]}` }, []string{`policy-file: the policy's "Statement" is empty`}},
		{"policy too long", func(o *Options) {
			o.PolicyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 10240) + `"}]}`
		}, []string{"more than IAM's quota of 10240 per role"}},
		{"bucket", func(o *Options) { o.S3Bucket = "My_Bucket" }, []string{"s3-bucket: \"My_Bucket\": bucket names are 3 to 63"}},
		{"bucket dots", func(o *Options) { o.S3Bucket = "a..b" }, []string{"no two dots"}},
		{"bucket ip", func(o *Options) { o.S3Bucket = "192.168.1.1" }, []string{"not IP addresses"}},
		{"bucket prefix", func(o *Options) { o.S3Bucket = "xn--data" }, []string{"reserves the prefixes"}},
		{"read-only alone", func(o *Options) {
			o.S3Bucket, o.ReadOnly, o.PolicyARNs = "", true, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
		}, []string{"read-only: only applies to --s3-bucket"}},
		{"annotation prefix", func(o *Options) { o.AnnotationPrefix = "Not A Prefix" }, []string{"annotation-prefix:"}},
		{"audience", func(o *Options) { o.Audience = strings.Repeat("a", 256) }, []string{"audience: IAM client IDs are at most 255 characters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			err := o.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
	if err := (DeleteOptions{Namespace: "payments", ServiceAccount: "api"}).Validate(); err != nil {
		t.Errorf("good delete options: %v", err)
	}
	if err := (DeleteOptions{Namespace: "-x", ServiceAccount: "api"}).Validate(); err == nil || !strings.Contains(err.Error(), "namespace:") {
		t.Errorf("bad delete options: %v", err)
	}
}

func TestS3PolicyPartition(t *testing.T) {
	got := S3Policy("aws-cn", "data", true)
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"ListBucket","Effect":"Allow","Action":["s3:ListBucket"],"Resource":"arn:aws-cn:s3:::data"},` +
		`{"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws-cn:s3:::data/*"}]}`
	if got != want {
		t.Errorf("S3Policy:\n%s\nwant\n%s", got, want)
	}
}
