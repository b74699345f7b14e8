package webhook

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	pathpkg "path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// Options is the whole configuration of `irsa webhook`. Flag names follow
// amazon-eks-pod-identity-webhook where it has one, so deployments can switch
// without edits.
type Options struct {
	// Kubeconfig is the client configuration file; empty means in-cluster.
	Kubeconfig string
	// APIServer overrides the API server URL of the kubeconfig.
	APIServer string
	// InCluster is accepted for compatibility only: certificates always come
	// from files.
	InCluster bool

	// BindAddress is the address both servers listen on; empty means all.
	BindAddress string
	// Port serves /mutate over TLS.
	Port int
	// MetricsPort serves /metrics, /healthz and /readyz over plain HTTP.
	MetricsPort int
	// Profiling adds Go's /debug/pprof/ handlers to the metrics port.
	Profiling bool
	// TLSCert and TLSKey are the serving certificate and key (PEM files).
	TLSCert, TLSKey string
	// TLSMinVersion is "1.2" or "1.3".
	TLSMinVersion string
	// CertReloadInterval is how often the certificate files are re-read.
	CertReloadInterval time.Duration
	// IdleTimeout closes kept-alive connections unused for this long.
	IdleTimeout time.Duration

	// Namespace holds the mapping ConfigMap.
	Namespace string
	// WatchConfigMap turns on the mapping ConfigMap.
	WatchConfigMap bool
	// WatchContainerCredentialsConfig is the Pod Identity association file.
	WatchContainerCredentialsConfig string
	// LookupGracePeriod bounds the direct API read of a ServiceAccount the
	// cache has not seen yet; zero turns the read off.
	LookupGracePeriod time.Duration
	// ShutdownDelay is how long the webhook keeps serving, not ready, after
	// SIGTERM, so the Service stops sending requests before it stops.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration

	// ComposeRoleARN is upstream's bare-role-name mode, refused with a
	// reason rather than as an unknown flag.
	ComposeRoleARN bool

	// LogLevel is debug, info, warn or error; LogFormat is json or text.
	LogLevel, LogFormat string

	// Mutate are the mutation's settings.
	Mutate mutate.Options
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		InCluster:          true,
		Port:               443,
		MetricsPort:        9999,
		TLSCert:            "/etc/webhook/certs/tls.crt",
		TLSKey:             "/etc/webhook/certs/tls.key",
		TLSMinVersion:      "1.2",
		CertReloadInterval: 2 * time.Second,
		IdleTimeout:        90 * time.Second,
		Namespace:          "eks",
		LookupGracePeriod:  2 * time.Second,
		ShutdownDelay:      5 * time.Second,
		ShutdownTimeout:    20 * time.Second,
		LogLevel:           "info",
		LogFormat:          "json",
		Mutate:             mutate.DefaultOptions(),
	}
}

// AddFlags binds every option to a flag.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file; empty means in-cluster configuration")
	fs.StringVar(&o.APIServer, "kube-api", o.APIServer, "API server URL, overriding the kubeconfig's")
	fs.BoolVar(&o.InCluster, "in-cluster", o.InCluster, "accepted for compatibility; certificates always come from --tls-cert and --tls-key")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address to listen on; empty means all")
	fs.IntVar(&o.Port, "port", o.Port, "HTTPS port of /mutate")
	fs.IntVar(&o.MetricsPort, "metrics-port", o.MetricsPort, "HTTP port of /metrics, /healthz and /readyz")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve /debug/pprof/ on the metrics port")
	fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "serving certificate file (PEM), re-read when it changes")
	fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "serving key file (PEM), re-read when it changes")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", o.TLSMinVersion, "minimum TLS version: 1.2 or 1.3")
	fs.DurationVar(&o.CertReloadInterval, "tls-reload-interval", o.CertReloadInterval, "how often the certificate files are checked for changes")
	fs.DurationVar(&o.IdleTimeout, "http-idle-timeout", o.IdleTimeout, "close kept-alive connections idle this long")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "namespace of the mapping ConfigMap")
	fs.BoolVar(&o.WatchConfigMap, "watch-config-map", o.WatchConfigMap, "map ServiceAccounts to roles with the ConfigMap "+`"pod-identity-webhook"`+" in --namespace")
	fs.StringVar(&o.WatchContainerCredentialsConfig, "watch-container-credentials-config", o.WatchContainerCredentialsConfig, "Pod Identity association file, re-read every --tls-reload-interval; empty turns container credentials off")
	fs.DurationVar(&o.LookupGracePeriod, "service-account-lookup-grace-period", o.LookupGracePeriod, "time allowed to read a ServiceAccount the cache has not seen yet; 0 turns the read off")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", o.ShutdownDelay, "time to keep serving, not ready, after SIGTERM while the endpoint is removed")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "time allowed for in-flight requests to finish on shutdown")
	fs.BoolVar(&o.ComposeRoleARN, "compose-role-arn", o.ComposeRoleARN, "not supported: annotate full role ARNs")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "json or text")

	m := &o.Mutate
	fs.StringVar(&m.AnnotationPrefix, "annotation-prefix", m.AnnotationPrefix, "prefix of the ServiceAccount and pod annotations (OpenShift guides use sts.amazonaws.com)")
	fs.StringVar(&m.Audience, "token-audience", m.Audience, "default audience of the projected token")
	fs.StringVar(&m.MountPath, "token-mount-path", m.MountPath, "where the token is mounted in containers")
	fs.Int64Var(&m.TokenExpiration, "token-expiration", m.TokenExpiration, "default token lifetime in seconds (at least 600)")
	fs.StringVar(&m.Region, "aws-default-region", m.Region, "inject AWS_REGION and AWS_DEFAULT_REGION with this region")
	fs.BoolVar(&m.RegionalSTS, "sts-regional-endpoint", m.RegionalSTS, "inject AWS_STS_REGIONAL_ENDPOINTS=regional")
	fs.BoolVar(&m.SessionNameFromPod, "session-name-from-pod", m.SessionNameFromPod, "inject AWS_ROLE_SESSION_NAME from the pod's name, so CloudTrail names the pod; the session-name annotation overrides it")
	fs.StringVar(&m.ContainerCredentialsAudience, "container-credentials-audience", m.ContainerCredentialsAudience, "token audience in Pod Identity mode")
	fs.StringVar(&m.ContainerCredentialsMountPath, "container-credentials-token-mount-path", m.ContainerCredentialsMountPath, "token mount path in Pod Identity mode")
	fs.StringVar(&m.ContainerCredentialsFullURI, "container-credentials-full-uri", m.ContainerCredentialsFullURI, "credentials endpoint in Pod Identity mode")
	fs.StringVar(&m.ContainerCredentialsVolume, "container-credentials-token-volume-name", m.ContainerCredentialsVolume, "token volume name in Pod Identity mode")
	fs.StringVar(&m.ContainerCredentialsTokenFile, "container-credentials-token-path", m.ContainerCredentialsTokenFile, "token file name, inside the mount path, in Pod Identity mode")
	addCompatibilityFlags(fs)
}

// addCompatibilityFlags accepts the upstream webhook's flags that have no
// meaning here, so an existing Deployment starts unchanged; using one
// prints why it is ignored.
func addCompatibilityFlags(fs *pflag.FlagSet) {
	text := func(name string) { fs.String(name, "", "") }
	toggle := func(name string) { fs.Bool(name, false, "") }
	for _, f := range []struct {
		name   string
		define func(name string)
		why    string
	}{
		{"service-name", text, "it named certificate signing requests; certificates come from --tls-cert and --tls-key"},
		{"tls-secret", text, "certificates come from --tls-cert and --tls-key"},
		{"resync-period", func(n string) { fs.Duration(n, 0, "") }, "the ServiceAccount cache is kept current by its watch"},
		{"enable-debugging-handlers", toggle, "see /metrics on --metrics-port"},
		{"logtostderr", toggle, "logs always go to standard error"},
		{"alsologtostderr", toggle, "logs always go to standard error"},
		{"v", func(n string) { fs.IntP(n, n, 0, "") }, "use --log-level"},
		{"stderrthreshold", text, "logs always go to standard error"},
		{"vmodule", text, "use --log-level"},
		{"log_dir", text, "logs always go to standard error"},
		{"log_file", text, "logs always go to standard error"},
	} {
		f.define(f.name)
		_ = fs.MarkDeprecated(f.name, "ignored: "+f.why)
	}
}

// Validate returns every problem with the options, each naming its flag.
func (o *Options) Validate() error {
	var errs []error
	bad := func(flag string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if o.Port < 1 || o.Port > 65535 {
		bad("port", "%d is not a TCP port", o.Port)
	}
	if o.MetricsPort < 1 || o.MetricsPort > 65535 {
		bad("metrics-port", "%d is not a TCP port", o.MetricsPort)
	} else if o.MetricsPort == o.Port {
		bad("metrics-port", "must differ from --port (%d)", o.Port)
	}
	if o.TLSCert == "" {
		bad("tls-cert", "is required")
	}
	if o.TLSKey == "" {
		bad("tls-key", "is required")
	}
	if _, err := tlsVersion(o.TLSMinVersion); err != nil {
		bad("tls-min-version", "%v", err)
	}
	if o.CertReloadInterval <= 0 {
		bad("tls-reload-interval", "must be positive")
	}
	if o.IdleTimeout <= 0 {
		bad("http-idle-timeout", "must be positive")
	}
	if o.WatchConfigMap {
		if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
			bad("namespace", "%q: %s", o.Namespace, strings.Join(msgs, "; "))
		}
	}
	if o.LookupGracePeriod < 0 {
		bad("service-account-lookup-grace-period", "must not be negative")
	}
	if o.ComposeRoleARN {
		bad("compose-role-arn", "not supported: annotate ServiceAccounts with full role ARNs (arn:PARTITION:iam::ACCOUNT:role/NAME)")
	}
	if o.ShutdownDelay < 0 {
		bad("shutdown-delay", "must not be negative")
	}
	if o.ShutdownTimeout < 0 {
		bad("shutdown-timeout", "must not be negative")
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	if o.LogFormat != "json" && o.LogFormat != "text" {
		bad("log-format", "%q: want json or text", o.LogFormat)
	}

	m := o.Mutate
	if msgs := validation.IsDNS1123Subdomain(m.AnnotationPrefix); len(msgs) > 0 {
		bad("annotation-prefix", "%q: %s", m.AnnotationPrefix, strings.Join(msgs, "; "))
	}
	if m.Audience == "" {
		bad("token-audience", "is required")
	}
	// A slice, not a map: the errors come out in the same order every time.
	for _, p := range []struct{ flag, path string }{
		{"token-mount-path", m.MountPath},
		{"container-credentials-token-mount-path", m.ContainerCredentialsMountPath},
	} {
		if !strings.HasPrefix(p.path, "/") || !utf8.ValidString(p.path) || pathpkg.Clean(p.path) != p.path {
			bad(p.flag, "%q must be a clean absolute path", p.path)
		}
	}
	if m.TokenExpiration < mutate.MinTokenExpiration {
		bad("token-expiration", "%d is below the minimum of %d seconds", m.TokenExpiration, mutate.MinTokenExpiration)
	}
	if m.TokenExpiration > mutate.MaxTokenExpiration {
		bad("token-expiration", "%d is above the maximum of %d seconds", m.TokenExpiration, mutate.MaxTokenExpiration)
	}
	for _, msg := range validation.IsDNS1123Label(m.ContainerCredentialsVolume) {
		bad("container-credentials-token-volume-name", "%q: %s", m.ContainerCredentialsVolume, msg)
	}
	if f := m.ContainerCredentialsTokenFile; f == "" || strings.ContainsAny(f, "/\\") || f == "." || f == ".." {
		bad("container-credentials-token-path", "%q must be a file name", f)
	}
	if m.ContainerCredentialsAudience == "" {
		bad("container-credentials-audience", "is required")
	}
	if u, err := url.Parse(m.ContainerCredentialsFullURI); err != nil || u.Scheme == "" || u.Host == "" {
		bad("container-credentials-full-uri", "%q is not an absolute URL", m.ContainerCredentialsFullURI)
	}
	return errors.Join(errs...)
}

func tlsVersion(v string) (uint16, error) {
	switch v {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.2 or 1.3", v)
}
