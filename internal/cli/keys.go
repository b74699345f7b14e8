package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/irsa-dev/irsa/internal/oidc"
)

// kubeFlags select the cluster a command talks to, as kubectl does.
type kubeFlags struct {
	kubeconfig string
	context    string
}

func (k *kubeFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)")
	fs.StringVar(&k.context, "context", "", "kubeconfig context to use")
}

func (k *kubeFlags) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: k.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

func (k *kubeFlags) client() (kubernetes.Interface, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// keySource is where a command reads the ServiceAccount signing keys from:
// PEM files, the live cluster, or both.
type keySource struct {
	files       []string
	fromCluster bool
	kube        kubeFlags
}

func (s *keySource) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&s.files, "public-key", nil, "PEM file with signing keys (repeatable)")
	fs.BoolVar(&s.fromCluster, "from-cluster", false,
		"read the signing keys from the cluster: its /openid/v1/jwks and, on OpenShift, every key in openshift-kube-apiserver/bound-sa-token-signing-certs")
	s.kube.addFlags(fs)
}

var errNoKeySource = errors.New("give the signing keys with --public-key FILE or --from-cluster")

// load reads every key; notes about where they came from go to notes.
func (s *keySource) load(ctx context.Context, notes io.Writer) ([]crypto.PublicKey, error) {
	if len(s.files) == 0 && !s.fromCluster {
		return nil, errNoKeySource
	}
	keys, err := oidc.ReadKeyFiles(s.files)
	if err != nil {
		return nil, fmt.Errorf("--public-key %w", err)
	}
	if s.fromCluster {
		client, err := s.kube.client()
		if err != nil {
			return nil, fmt.Errorf("--from-cluster: %w", err)
		}
		found, err := oidc.ReadClusterKeys(ctx, client)
		if err != nil {
			return nil, fmt.Errorf("--from-cluster: %w", err)
		}
		for _, src := range found.Sources {
			fmt.Fprintf(notes, "read %s\n", src)
		}
		for _, w := range found.Warnings {
			fmt.Fprintf(notes, "warning: %s\n", w)
		}
		keys = append(keys, found.Keys...)
	}
	return keys, nil
}
