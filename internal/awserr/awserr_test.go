package awserr

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestAction(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	err := Action("iam:CreateRole", "role r", denied)
	if !strings.Contains(err.Error(), "the credentials need iam:CreateRole") || !errors.Is(err, denied) || !IsAccessDenied(err) {
		t.Errorf("access denied: %v", err)
	}
	other := &smithy.GenericAPIError{Code: "Throttling"}
	if err := Action("iam:CreateRole", "role r", other); strings.Contains(err.Error(), "need") || Code(err) != "Throttling" {
		t.Errorf("other: %v", err)
	}
	if Code(errors.New("plain")) != "" || Code(nil) != "" {
		t.Error("Code of a non-AWS error")
	}
}
