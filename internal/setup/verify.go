package setup

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/token"
)

// VerifyServiceAccount is the ServiceAccount the verify phase mints a
// token for, in the webhook's namespace.
const VerifyServiceAccount = "irsa-verify"

// managedBy labels what irsa creates in the cluster.
var managedBy = map[string]string{"app.kubernetes.io/managed-by": fieldManager}

// phaseVerify mints a token as the kubelet would and verifies it against
// the published issuer exactly as AWS STS will.
func (r *run) phaseVerify(ctx context.Context) (progress.Step, error) {
	if r.opts.DryRun {
		fmt.Fprintf(r.opts.Out, "verify: a token for %s/%s, audience %s, verified against %s\n", deploy.Namespace, VerifyServiceAccount, iamoidc.STSAudience, r.result.Issuer)
		return progress.Step{Outcome: progress.Skipped, Detail: "dry run"}, nil
	}
	if err := r.ensureVerifyServiceAccount(ctx); err != nil {
		return progress.Step{}, err
	}
	tr, err := r.c.Kube.CoreV1().ServiceAccounts(deploy.Namespace).CreateToken(ctx, VerifyServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{iamoidc.STSAudience}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return progress.Step{}, fmt.Errorf("request a token for %s/%s: %w", deploy.Namespace, VerifyServiceAccount, err)
	}
	claims, err := token.Verify(ctx, tr.Status.Token, token.Options{Audience: iamoidc.STSAudience, Issuer: r.result.Issuer, HTTPClient: r.opts.HTTPClient, Now: r.opts.Now})
	var verr *token.VerifyError
	if errors.As(err, &verr) && verr.Check == token.CheckIssuer {
		return progress.Step{}, fmt.Errorf("%w: %v. Run the cluster-issuer phase and apply what it says (on OpenShift, wait for the kube-apiserver rollout), then run setup again", errIssuerNotSet, err)
	}
	if err != nil {
		return progress.Step{}, fmt.Errorf("a token the cluster just signed does not verify as AWS STS would verify it: %w", err)
	}
	return progress.Step{Outcome: progress.Checked, Detail: fmt.Sprintf("token for %s (kid %s) verified against %s", claims.Subject, claims.KeyID, claims.Issuer)}, nil
}

// ensureVerifyServiceAccount creates the namespace and ServiceAccount the
// verify phase needs, when the webhook phase did not.
func (r *run) ensureVerifyServiceAccount(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: deploy.Namespace, Labels: managedBy}}
	if _, err := r.c.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", deploy.Namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: VerifyServiceAccount, Namespace: deploy.Namespace, Labels: managedBy}}
	if _, err := r.c.Kube.CoreV1().ServiceAccounts(deploy.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s/%s: %w", deploy.Namespace, VerifyServiceAccount, err)
	}
	return nil
}
