// Package setup is the platform team's `irsa setup`: named, idempotent
// phases that take a cluster from nothing to pods getting IAM roles. Each
// phase reads where things stand before it changes anything, so a second
// run changes nothing and a run cut off after any phase resumes cleanly.
package setup

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// The phases, in the order they run.
const (
	PhaseKeys          = "keys"
	PhasePublish       = "publish"
	PhaseProvider      = "provider"
	PhaseClusterIssuer = "cluster-issuer"
	PhaseWebhook       = "webhook"
	PhaseVerify        = "verify"
)

// Phases lists every phase in order.
var Phases = []string{PhaseKeys, PhasePublish, PhaseProvider, PhaseClusterIssuer, PhaseWebhook, PhaseVerify}

// Clients reach the cluster and AWS.
type Clients struct {
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Mapper     meta.RESTMapper
	S3         s3issuer.S3API
	CloudFront s3issuer.CloudFrontAPI
	IAM        iamoidc.IAMAPI
}

// Options say what to set up.
type Options struct {
	// Keys: PEM files, the cluster's own keys, or a pair generated in
	// KeyDir (kept there and reused on the next run).
	KeyFiles     []string
	FromCluster  bool
	GenerateKeys bool
	KeyDir       string
	// KeySetOptions shape the published key set.
	KeySetOptions oidc.KeySetOptions

	// Publish: where the issuer is hosted. See s3issuer.Options.
	Bucket, Region string
	Private, Adopt bool
	// Emulated is set for AWS endpoints that are an emulator; see
	// s3issuer.Options.
	Emulated      bool
	DeployTimeout time.Duration
	// Issuer is the issuer URL when the publish phase is skipped; empty
	// means the bucket's public address.
	Issuer string
	// ExistingIssuer is an issuer the cluster already has and serves
	// (ROSA with STS, EKS, a self-hosted one): the keys and publish phases
	// are skipped, and verify checks its documents hold the key the
	// cluster signs with now.
	ExistingIssuer string

	// Provider: client IDs besides sts.amazonaws.com and an optional
	// thumbprint.
	Audiences  []string
	Thumbprint string

	// Webhook: the certificate mode (deploy.Modes) and image.
	CertMode string
	Image    string

	// SkipPhases are not run.
	SkipPhases []string
	// DryRun changes nothing: it prints the plan and the exact documents
	// to Out.
	DryRun bool
	Out    io.Writer

	// HTTPClient reads the published documents anonymously; nil means a
	// plain client.
	HTTPClient *http.Client
	// Report is told of each step, and of each phase as it ends.
	Report func(progress.Step)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withExistingIssuer applies ExistingIssuer: nothing to generate or publish.
func (o Options) withExistingIssuer() Options {
	if o.ExistingIssuer == "" {
		return o
	}
	o.Issuer = o.ExistingIssuer
	for _, p := range []string{PhaseKeys, PhasePublish} {
		if !slices.Contains(o.SkipPhases, p) {
			o.SkipPhases = append(slices.Clone(o.SkipPhases), p)
		}
	}
	return o
}

// Validate returns every reason the options cannot be used.
func (o Options) Validate() error {
	o = o.withExistingIssuer()
	var errs []error
	for _, p := range o.SkipPhases {
		if !slices.Contains(Phases, p) {
			errs = append(errs, fmt.Errorf("skip-phases: %q is not a phase (%s)", p, strings.Join(Phases, ", ")))
		}
	}
	if o.run(PhaseKeys) || o.run(PhasePublish) {
		n := 0
		for _, set := range []bool{len(o.KeyFiles) > 0, o.FromCluster, o.GenerateKeys} {
			if set {
				n++
			}
		}
		switch {
		case n == 0:
			errs = append(errs, errors.New("keys: choose --from-cluster, --public-key FILE or --generate-keys"))
		case o.GenerateKeys && n > 1:
			errs = append(errs, errors.New("keys: --generate-keys makes a new pair; it cannot be combined with other key sources"))
		case o.GenerateKeys && o.KeyDir == "":
			errs = append(errs, errors.New("keys: --generate-keys needs --key-dir"))
		}
	}
	if o.run(PhasePublish) {
		if err := s3issuer.ValidateBucket(o.Bucket); err != nil {
			errs = append(errs, fmt.Errorf("bucket: %w", err))
		}
	} else if o.Issuer == "" && (o.Private || o.Bucket == "") {
		errs = append(errs, errors.New("issuer: with the publish phase skipped, give --issuer (or --bucket and --region of a public issuer)"))
	}
	if o.Issuer != "" {
		if err := oidc.ValidateIssuer(o.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("issuer: %w", err))
		}
	}
	if o.run(PhaseWebhook) && !slices.Contains(deploy.Modes, o.CertMode) {
		errs = append(errs, fmt.Errorf("cert-mode: %q: want one of %s", o.CertMode, strings.Join(deploy.Modes, ", ")))
	}
	return errors.Join(errs...)
}

func (o Options) run(phase string) bool { return !slices.Contains(o.SkipPhases, phase) }

// Result is what a run did.
type Result struct {
	Issuer      string          `json:"issuer"`
	ProviderARN string          `json:"providerARN,omitempty"`
	Steps       []progress.Step `json:"steps"`
}

// Changed reports whether the run changed anything.
func (r Result) Changed() bool { return progress.Changed(r.Steps) }

// run is one `irsa setup`: the options and what the phases hand on.
type run struct {
	c      Clients
	opts   Options
	result Result
	keys   []crypto.PublicKey
}

// Run runs every phase not skipped, in order, and stops at the first that
// fails, with an error naming it.
func Run(ctx context.Context, c Clients, opts Options) (Result, error) {
	opts = opts.withExistingIssuer()
	r := &run{c: c, opts: opts}
	if err := opts.Validate(); err != nil {
		return r.result, err
	}
	if r.opts.Out == nil {
		r.opts.Out = io.Discard
	}
	if r.opts.Issuer == "" && !opts.Private && opts.Bucket != "" {
		r.result.Issuer, _ = s3issuer.IssuerURL(opts.Bucket, opts.Region)
	} else {
		r.result.Issuer = opts.Issuer
	}
	phases := map[string]func(context.Context) (progress.Step, error){
		PhaseKeys:          r.phaseKeys,
		PhasePublish:       r.phasePublish,
		PhaseProvider:      r.phaseProvider,
		PhaseClusterIssuer: r.phaseClusterIssuer,
		PhaseWebhook:       r.phaseWebhook,
		PhaseVerify:        r.phaseVerify,
	}
	for _, name := range Phases {
		if !opts.run(name) {
			why := "--skip-phases"
			if opts.ExistingIssuer != "" && (name == PhaseKeys || name == PhasePublish) {
				why = "--existing-issuer: the cluster's issuer is served already"
			}
			r.report(progress.Step{Name: "phase " + name, Outcome: progress.Skipped, Detail: why})
			continue
		}
		if name == PhasePublish && len(r.keys) == 0 {
			// The keys phase was skipped: publishing still needs them.
			if _, err := r.phaseKeys(ctx); err != nil {
				return r.result, fmt.Errorf("phase %s: %w", name, err)
			}
		}
		start := time.Now()
		step, err := phases[name](ctx)
		if err != nil {
			return r.result, fmt.Errorf("phase %s: %w", name, err)
		}
		step.Name = "phase " + name
		step.Took = time.Since(start)
		r.report(step)
		if err := ctx.Err(); err != nil {
			return r.result, fmt.Errorf("after phase %s: %w", name, err)
		}
	}
	return r.result, nil
}

// report records a step and tells the caller.
func (r *run) report(s progress.Step) {
	r.result.Steps = append(r.result.Steps, s)
	if r.opts.Report != nil {
		r.opts.Report(s)
	}
}

// summarize is the outcome of a phase made of steps: created when any was
// created, else updated when any was updated, else unchanged.
func summarize(steps []progress.Step) progress.Outcome {
	out := progress.Unchanged
	for _, s := range steps {
		switch s.Outcome {
		case progress.Created:
			return progress.Created
		case progress.Updated:
			out = progress.Updated
		}
	}
	return out
}

// sub reports the steps of a phase indented under it.
func (r *run) sub(s progress.Step) {
	s.Name = "  " + s.Name
	r.report(s)
}

func (r *run) httpClient() *http.Client {
	if r.opts.HTTPClient != nil {
		return r.opts.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (r *run) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

// KubeClients returns the cluster clients setup needs from a REST config.
func KubeClients(cfg *rest.Config) (kubernetes.Interface, dynamic.Interface, meta.RESTMapper, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	return kube, dyn, mapper, nil
}
