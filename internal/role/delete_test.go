package role

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/progress"
)

func (e *testEnv) delete(opts DeleteOptions) DeleteResult {
	e.t.Helper()
	res, err := Delete(e.ctx, e.iam, cluster.Client, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *testEnv) deleteOptions(sa string) DeleteOptions {
	return DeleteOptions{Namespace: e.ns, ServiceAccount: sa, Report: func(s progress.Step) { e.t.Logf("%s %s (%s)", s.Outcome, s.Name, s.Detail) }}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	team := e.managedPolicy("team-read")
	opts := e.options("app")
	opts.PolicyARNs = []string{team}
	opts.PolicyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`
	created := e.create(opts)
	// Someone attaches a policy of their own to irsa's role.
	extra := e.managedPolicy("extra")
	if _, err := e.iam.AttachRolePolicy(e.ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(created.RoleName), PolicyArn: aws.String(extra)}); err != nil {
		t.Fatal(err)
	}

	dry := e.deleteOptions("app")
	dry.DryRun = true
	if res := e.delete(dry); res.Changed || !e.roleExists(created.RoleName) || e.serviceAccount("app") == nil {
		t.Fatalf("dry run changed something: %+v", res.Steps)
	}

	res := e.delete(e.deleteOptions("app"))
	if !res.Changed || res.RoleARN != created.RoleARN {
		t.Errorf("delete: %+v", res)
	}
	if e.roleExists(created.RoleName) {
		t.Error("role not deleted")
	}
	for _, p := range []string{team, extra} {
		if _, err := e.iam.GetPolicy(e.ctx, &iam.GetPolicyInput{PolicyArn: aws.String(p)}); err != nil {
			t.Errorf("managed policy %s deleted, not only detached: %v", p, err)
		}
	}
	var names []string
	for _, s := range res.Steps {
		names = append(names, fmt.Sprintf("%s %s (%s)", s.Outcome, s.Name, s.Detail))
	}
	for _, want := range []string{
		"deleted attachment of managed policy " + team + " (the policy itself is kept)",
		"deleted attachment of managed policy " + extra + " (the policy itself is kept)",
		"deleted inline policy irsa-policy ()",
		"deleted inline policy irsa-s3-app-data ()",
		"deleted role " + created.RoleName + " ()",
		"deleted ServiceAccount " + e.ns + "/app (irsa created it)",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no step %q in %q", want, names)
		}
	}
	if e.serviceAccount("app") != nil {
		t.Error("ServiceAccount irsa created not deleted")
	}

	again := e.delete(e.deleteOptions("app"))
	wantUnchanged(t, "second delete", again.Steps)
	if again.Changed {
		t.Error("second delete reports a change")
	}
}

func TestDeleteKeepsUserServiceAccount(t *testing.T) {
	e := newEnv(t)
	e.putServiceAccount("app", map[string]string{"team": "payments"})
	created := e.create(e.options("app"))
	e.delete(e.deleteOptions("app"))
	sa := e.serviceAccount("app")
	if sa == nil {
		t.Fatal("ServiceAccount irsa did not create was deleted")
	}
	if _, has := sa.Annotations["eks.amazonaws.com/role-arn"]; has || sa.Annotations["team"] != "payments" {
		t.Errorf("annotations after delete: %v", sa.Annotations)
	}
	if e.roleExists(created.RoleName) {
		t.Error("role not deleted")
	}

	// An irsa ServiceAccount re-annotated with another role is kept, and so
	// is its annotation.
	other := roleARN("someone-elses")
	e.create(e.options("moved"))
	if _, err := cluster.Client.CoreV1().ServiceAccounts(e.ns).Patch(e.ctx, "moved", types.MergePatchType,
		annotationPatch(map[string]*string{"eks.amazonaws.com/role-arn": &other}), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res := e.delete(e.deleteOptions("moved"))
	if got := e.serviceAccount("moved"); got == nil || got.Annotations["eks.amazonaws.com/role-arn"] != other {
		t.Errorf("re-annotated ServiceAccount: %+v", got)
	}
	if last := res.Steps[len(res.Steps)-1]; last.Outcome != progress.Unchanged || !strings.Contains(last.Detail, "names another role") {
		t.Errorf("last step %+v", last)
	}
}

func TestDeleteRefusesForeignRole(t *testing.T) {
	e := newEnv(t)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	e.putRole("shared-role", trust, nil)
	team := e.managedPolicy("team-read")
	if _, err := e.iam.AttachRolePolicy(e.ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("shared-role"), PolicyArn: aws.String(team)}); err != nil {
		t.Fatal(err)
	}
	opts := e.options("app")
	opts.RoleName, opts.Adopt = "shared-role", true
	e.create(opts)

	del := e.deleteOptions("app")
	del.RoleName = "shared-role"
	_, err := Delete(e.ctx, e.iam, cluster.Client, del)
	if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("foreign role: err = %v", err)
	}
	if !e.roleExists("shared-role") || !slices.Equal(e.attached("shared-role"), []string{team}) || !slices.Equal(e.inline("shared-role"), []string{"irsa-s3-app-data"}) {
		t.Error("foreign role changed")
	}
	if sa := e.serviceAccount("app"); sa == nil || sa.Annotations["eks.amazonaws.com/role-arn"] != roleARN("shared-role") {
		t.Errorf("ServiceAccount changed although the role was refused: %+v", sa)
	}

	// A role irsa made for another ServiceAccount is refused too.
	mine := e.create(e.options("mine"))
	del = e.deleteOptions("app")
	del.RoleName = mine.RoleName
	if _, err := Delete(e.ctx, e.iam, cluster.Client, del); !errors.Is(err, ErrNotOwned) || !e.roleExists(mine.RoleName) {
		t.Errorf("role of another ServiceAccount: err = %v", err)
	}
}
