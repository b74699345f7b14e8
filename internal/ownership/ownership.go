// Package ownership marks the AWS resources irsa creates, so that irsa
// changes and deletes only what it made and leaves everything else alone.
package ownership

// Tag is the tag every resource irsa creates carries.
const (
	TagKey   = "irsa.dev/managed-by"
	TagValue = "irsa"
)

// IssuerTagKey records the issuer a resource serves, for people reading
// the console and for teardown.
const IssuerTagKey = "irsa.dev/issuer"

// Tags returns the tags for a new resource serving issuer; an empty issuer
// (not known yet) is left out.
func Tags(issuer string) map[string]string {
	tags := map[string]string{TagKey: TagValue}
	if issuer != "" {
		tags[IssuerTagKey] = issuer
	}
	return tags
}

// Owned reports whether tags mark a resource irsa created.
func Owned(tags map[string]string) bool { return tags[TagKey] == TagValue }
