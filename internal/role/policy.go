package role

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/irsa-dev/irsa/internal/iampolicy"
)

// S3Policy returns the least-privilege policy for one bucket in the
// partition: list the bucket, read its objects and, unless readOnly, write
// and delete them. Nothing else: no other bucket, no bucket settings.
func S3Policy(partition, bucket string, readOnly bool) string {
	bucketARN := "arn:" + partition + ":s3:::" + bucket
	objectActions := []string{"s3:GetObject"}
	if !readOnly {
		objectActions = append(objectActions, "s3:PutObject", "s3:DeleteObject")
	}
	type statement struct {
		Sid      string   `json:"Sid"`
		Effect   string   `json:"Effect"`
		Action   []string `json:"Action"`
		Resource string   `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: policyVersion,
		Statement: []statement{
			{Sid: "ListBucket", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: bucketARN},
			{Sid: "Objects", Effect: "Allow", Action: objectActions, Resource: bucketARN + "/*"},
		},
	}
	out, _ := json.Marshal(doc)
	return string(out)
}

const policyVersion = "2012-10-17"

// decodePolicy returns a policy document as IAM returns it, URL-encoded
// (RFC 3986), decoded. Path unescaping, not query unescaping: a "+" in a
// policy is a plus, not an encoded space. A document that is already JSON
// (some IAM stand-ins send it so) is returned as is.
func decodePolicy(doc string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc, nil
	}
	out, err := url.PathUnescape(doc)
	if err != nil {
		return "", fmt.Errorf("IAM returned a policy document that is not URL-encoded JSON: %w", err)
	}
	return out, nil
}

// compact returns doc without insignificant whitespace: the size IAM
// counts against its quotas.
func compact(doc string) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	return buf.String(), nil
}

// samePolicy reports whether two policy documents mean the same to IAM.
func samePolicy(a, b string) bool { return iampolicy.Equal([]byte(a), []byte(b)) }
