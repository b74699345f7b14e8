// Package localcluster starts a real Kubernetes control plane on this
// machine: the kube-apiserver and etcd built by hack/testbin, bound to
// 127.0.0.1, with a ServiceAccount issuer and signing key the caller
// controls. Tests and `irsa demo` use it.
package localcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/irsa-dev/irsa/internal/childprocess"
)

// DefaultIssuer is the ServiceAccount issuer of a test cluster unless the
// test sets its own.
const DefaultIssuer = "https://irsa.test/cluster"

// Options configure a test cluster.
type Options struct {
	// Issuer is the --service-account-issuer; DefaultIssuer when empty.
	Issuer string
	// ExtraArgs are appended to the kube-apiserver command line.
	ExtraArgs []string
}

// Cluster is a running kube-apiserver with its etcd.
type Cluster struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// URL is the API server's https URL.
	URL string
	// Issuer is the ServiceAccount token issuer.
	Issuer string
	// SigningKey signs ServiceAccount tokens; its public half is what the
	// cluster's JWKS publishes.
	SigningKey *rsa.PrivateKey
	// SigningKeyFile and PublicKeyFile are the PEM files the API server reads.
	SigningKeyFile, PublicKeyFile string
	// Dir holds the cluster's files and logs.
	Dir string

	etcd, apiserver *childprocess.Process
	etcdLog         *os.File
	apiserverLog    *os.File
}

// BinDir returns where kube-apiserver and etcd are: $IRSA_TESTBIN, else
// bin/testbin in the working directory or at the root of this source tree.
func BinDir() (string, error) {
	candidates := []string{filepath.Join("bin", "testbin")}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", "bin", "testbin"))
	}
	if dir := os.Getenv("IRSA_TESTBIN"); dir != "" {
		candidates = []string{dir}
	}
	for _, dir := range candidates {
		if hasBinaries(dir) {
			return filepath.Abs(dir)
		}
	}
	return "", fmt.Errorf("kube-apiserver and etcd not found in %s: run `make testbin` (builds them from source, about 10 minutes the first time)", strings.Join(candidates, " or "))
}

func hasBinaries(dir string) bool {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return false
		}
	}
	return true
}

// Start starts etcd and kube-apiserver with their files in dir and waits
// until the API server is ready. On error everything started is stopped.
func Start(dir string, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if opts.Issuer == "" {
		opts.Issuer = DefaultIssuer
	}
	c := &Cluster{Dir: dir, Issuer: opts.Issuer}
	if err := c.start(bin, opts); err != nil {
		tail := c.LogTail(30)
		c.Stop()
		if tail != "" {
			err = fmt.Errorf("%w\n--- kube-apiserver log tail ---\n%s", err, tail)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(bin string, opts Options) error {
	dir := c.Dir

	ports, err := childprocess.FreePorts(3)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	if c.etcdLog, err = os.Create(filepath.Join(dir, "etcd.log")); err != nil {
		return err
	}
	etcd := exec.Command(filepath.Join(bin, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]))
	etcd.Env = withoutEtcdVars(os.Environ())
	if c.etcd, err = childprocess.Start(etcd, c.etcdLog); err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	if err := c.etcd.WaitHTTP(etcdURL+"/health", 30*time.Second); err != nil {
		return fmt.Errorf("etcd not ready: %w", err)
	}

	if c.SigningKey, c.SigningKeyFile, c.PublicKeyFile, err = NewSigningKey(dir); err != nil {
		return err
	}
	token := randomHex(16)
	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,irsa-test-admin,irsa-test-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}
	c.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		"--token-auth-file=" + tokenFile,
		"--anonymous-auth=true",
		"--allow-privileged=true",
		"--service-account-issuer=" + opts.Issuer,
		"--service-account-key-file=" + c.PublicKeyFile,
		"--service-account-signing-key-file=" + c.SigningKeyFile,
		"--api-audiences=" + opts.Issuer,
		"--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	args = append(args, opts.ExtraArgs...)
	if c.apiserverLog, err = os.Create(filepath.Join(dir, "kube-apiserver.log")); err != nil {
		return err
	}
	if c.apiserver, err = childprocess.Start(exec.Command(filepath.Join(bin, "kube-apiserver"), args...), c.apiserverLog); err != nil {
		return fmt.Errorf("start kube-apiserver: %w", err)
	}

	c.Config = &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             500,
		Burst:           1000,
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	if err := c.waitReady(60 * time.Second); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := c.writeKubeconfig(token); err != nil {
		return err
	}
	return nil
}

// Stop stops kube-apiserver, then etcd (stopping both at once makes the
// API server hang in shutdown), and waits for both to exit.
func (c *Cluster) Stop() {
	c.apiserver.Stop(15 * time.Second)
	c.etcd.Stop(10 * time.Second)
	for _, f := range []*os.File{c.apiserverLog, c.etcdLog} {
		if f != nil {
			f.Close()
		}
	}
}

// LogTail returns the last lines of the API server's log.
func (c *Cluster) LogTail(lines int) string {
	data, err := os.ReadFile(filepath.Join(c.Dir, "kube-apiserver.log"))
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if c.apiserver.Exited() {
			return errors.New("kube-apiserver exited")
		}
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && bytes.Equal(bytes.TrimSpace(body), []byte("ok")) {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s: %v", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) writeKubeconfig(token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["irsa-test"] = &clientcmdapi.Cluster{Server: c.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["irsa-test-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["irsa-test"] = &clientcmdapi.Context{Cluster: "irsa-test", AuthInfo: "irsa-test-admin"}
	cfg.CurrentContext = "irsa-test"
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig)
}

// withoutEtcdVars drops ETCD_* variables: etcd reads each as a flag.
func withoutEtcdVars(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ETCD_") {
			out = append(out, kv)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
