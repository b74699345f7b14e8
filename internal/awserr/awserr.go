// Package awserr tells AWS's answers apart by their error codes and words
// a failed call so the user knows which permission or resource it was.
package awserr

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Code is the error code AWS answered with, or "" for no error or an
// error that is not an AWS answer. For the answers an SDK has no type for.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// IsAccessDenied reports whether AWS refused the call for lack of a
// permission.
func IsAccessDenied(err error) bool {
	code := Code(err)
	return code == "AccessDenied" || code == "AccessDeniedException"
}

// Action names the action that failed (such as "iam:CreateRole") and on
// what; for a refusal it says which permission the credentials lack.
func Action(action, target string, err error) error {
	if IsAccessDenied(err) {
		return fmt.Errorf("%s on %s: access denied: the credentials need %s: %w", action, target, action, err)
	}
	return fmt.Errorf("%s on %s: %w", action, target, err)
}
