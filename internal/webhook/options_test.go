package webhook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/irsa-dev/irsa/internal/mutate"
)

func TestDefaultOptionsValidate(t *testing.T) {
	o := NewOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	// The mapping namespace is checked only when the mapping is watched.
	o.WatchConfigMap = true
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults with --watch-config-map do not validate: %v", err)
	}
	if o.Mutate != mutate.DefaultOptions() {
		t.Errorf("Mutate defaults %+v, want mutate.DefaultOptions()", o.Mutate)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Options)
		// want is the whole error message, or its beginning when prefix is set
		// (messages quoted from k8s.io/apimachinery validation).
		want   string
		prefix bool
	}{
		{name: "port zero", modify: func(o *Options) { o.Port = 0 }, want: "--port: 0 is not a TCP port"},
		{name: "port too high", modify: func(o *Options) { o.Port = 65536 }, want: "--port: 65536 is not a TCP port"},
		{name: "metrics port negative", modify: func(o *Options) { o.MetricsPort = -1 }, want: "--metrics-port: -1 is not a TCP port"},
		{name: "metrics port equals port", modify: func(o *Options) { o.MetricsPort = o.Port }, want: "--metrics-port: must differ from --port (443)"},
		{name: "no cert", modify: func(o *Options) { o.TLSCert = "" }, want: "--tls-cert: is required"},
		{name: "no key", modify: func(o *Options) { o.TLSKey = "" }, want: "--tls-key: is required"},
		{name: "TLS 1.1", modify: func(o *Options) { o.TLSMinVersion = "1.1" }, want: `--tls-min-version: "1.1": want 1.2 or 1.3`},
		{name: "TLS empty", modify: func(o *Options) { o.TLSMinVersion = "" }, want: `--tls-min-version: "": want 1.2 or 1.3`},
		{name: "reload zero", modify: func(o *Options) { o.CertReloadInterval = 0 }, want: "--tls-reload-interval: must be positive"},
		{name: "reload negative", modify: func(o *Options) { o.CertReloadInterval = -time.Second }, want: "--tls-reload-interval: must be positive"},
		{name: "bad namespace with mapping", modify: func(o *Options) { o.WatchConfigMap, o.Namespace = true, "Kube_System" },
			want: `--namespace: "Kube_System": a lowercase RFC 1123 label must consist of`, prefix: true},
		{name: "empty namespace with mapping", modify: func(o *Options) { o.WatchConfigMap, o.Namespace = true, "" },
			want: `--namespace: "": `, prefix: true},
		{name: "negative grace period", modify: func(o *Options) { o.LookupGracePeriod = -time.Second },
			want: "--service-account-lookup-grace-period: must not be negative"},
		{name: "compose role ARN", modify: func(o *Options) { o.ComposeRoleARN = true },
			want: "--compose-role-arn: not supported: annotate ServiceAccounts with full role ARNs (arn:PARTITION:iam::ACCOUNT:role/NAME)"},
		{name: "negative shutdown delay", modify: func(o *Options) { o.ShutdownDelay = -time.Second }, want: "--shutdown-delay: must not be negative"},
		{name: "negative shutdown timeout", modify: func(o *Options) { o.ShutdownTimeout = -time.Second }, want: "--shutdown-timeout: must not be negative"},
		{name: "log level", modify: func(o *Options) { o.LogLevel = "verbose" }, want: `--log-level: "verbose": want debug, info, warn or error`},
		{name: "log format", modify: func(o *Options) { o.LogFormat = "xml" }, want: `--log-format: "xml": want json or text`},
		{name: "empty annotation prefix", modify: func(o *Options) { o.Mutate.AnnotationPrefix = "" },
			want: `--annotation-prefix: "": `, prefix: true},
		{name: "bad annotation prefix", modify: func(o *Options) { o.Mutate.AnnotationPrefix = "EKS.amazonaws.com/" },
			want: `--annotation-prefix: "EKS.amazonaws.com/": a lowercase RFC 1123 subdomain must consist of`, prefix: true},
		{name: "no audience", modify: func(o *Options) { o.Mutate.Audience = "" }, want: "--token-audience: is required"},
		{name: "relative mount path", modify: func(o *Options) { o.Mutate.MountPath = "var/run/token" },
			want: `--token-mount-path: "var/run/token" must be a clean absolute path`},
		{name: "mount path with trailing slash", modify: func(o *Options) { o.Mutate.MountPath = "/var/run/token/" },
			want: `--token-mount-path: "/var/run/token/" must be a clean absolute path`},
		{name: "mount path not UTF-8", modify: func(o *Options) { o.Mutate.MountPath = "/var/\xf8" },
			want: `--token-mount-path: "/var/\xf8" must be a clean absolute path`},
		{name: "container credentials volume name", modify: func(o *Options) { o.Mutate.ContainerCredentialsVolume = "Pod_Token" },
			want: `--container-credentials-token-volume-name: "Pod_Token": `, prefix: true},
		{name: "container credentials token path with a directory", modify: func(o *Options) { o.Mutate.ContainerCredentialsTokenFile = "a/token" },
			want: `--container-credentials-token-path: "a/token" must be a file name`},
		{name: "empty container credentials mount path", modify: func(o *Options) { o.Mutate.ContainerCredentialsMountPath = "" },
			want: `--container-credentials-token-mount-path: "" must be a clean absolute path`},
		{name: "expiration below minimum", modify: func(o *Options) { o.Mutate.TokenExpiration = 599 },
			want: "--token-expiration: 599 is below the minimum of 600 seconds"},
		{name: "expiration above maximum", modify: func(o *Options) { o.Mutate.TokenExpiration = 1 << 32 },
			want: "--token-expiration: 4294967296 is above the maximum of 4294967295 seconds"},
		{name: "no container credentials audience", modify: func(o *Options) { o.Mutate.ContainerCredentialsAudience = "" },
			want: "--container-credentials-audience: is required"},
		{name: "relative credentials URI", modify: func(o *Options) { o.Mutate.ContainerCredentialsFullURI = "169.254.170.23/v1/credentials" },
			want: `--container-credentials-full-uri: "169.254.170.23/v1/credentials" is not an absolute URL`},
		{name: "unparseable credentials URI", modify: func(o *Options) { o.Mutate.ContainerCredentialsFullURI = "http://[::1" },
			want: `--container-credentials-full-uri: "http://[::1" is not an absolute URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			tt.modify(o)
			err := o.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			got := err.Error()
			if tt.prefix {
				if !strings.HasPrefix(got, tt.want) {
					t.Errorf("error\n%s\ndoes not start with\n%s", got, tt.want)
				}
			} else if got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestOptionsValidateValidValues(t *testing.T) {
	for name, modify := range map[string]func(*Options){
		"TLS 1.3":                func(o *Options) { o.TLSMinVersion = "1.3" },
		"lookup off":             func(o *Options) { o.LookupGracePeriod = 0 },
		"no drain":               func(o *Options) { o.ShutdownTimeout = 0 },
		"bad namespace, no map":  func(o *Options) { o.Namespace = "Not_Used" },
		"OpenShift prefix":       func(o *Options) { o.Mutate.AnnotationPrefix = "sts.amazonaws.com" },
		"minimum expiration":     func(o *Options) { o.Mutate.TokenExpiration = mutate.MinTokenExpiration },
		"maximum expiration":     func(o *Options) { o.Mutate.TokenExpiration = mutate.MaxTokenExpiration },
		"log levels any case":    func(o *Options) { o.LogLevel = "DEBUG" },
		"warn":                   func(o *Options) { o.LogLevel = "warn" },
		"text logs":              func(o *Options) { o.LogFormat = "text" },
		"https credentials URI":  func(o *Options) { o.Mutate.ContainerCredentialsFullURI = "https://[fd00:ec2::23]/v1/credentials" },
		"ports at the range end": func(o *Options) { o.Port, o.MetricsPort = 1, 65535 },
	} {
		o := NewOptions()
		modify(o)
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOptionsValidateReportsEveryProblemInOrder(t *testing.T) {
	o := NewOptions()
	o.Port = 0
	o.TLSKey = ""
	o.LogFormat = "xml"
	o.Mutate.MountPath = "a"
	o.Mutate.ContainerCredentialsMountPath = "b"
	o.Mutate.TokenExpiration = 1
	want := strings.Join([]string{
		"--port: 0 is not a TCP port",
		"--tls-key: is required",
		`--log-format: "xml": want json or text`,
		`--token-mount-path: "a" must be a clean absolute path`,
		`--container-credentials-token-mount-path: "b" must be a clean absolute path`,
		"--token-expiration: 1 is below the minimum of 600 seconds",
	}, "\n")
	// Run it several times: the order must not depend on map iteration.
	for range 20 {
		if err := o.Validate(); err == nil || err.Error() != want {
			t.Fatalf("error\n%v\nwant\n%s", err, want)
		}
	}
}

func TestOptionsFlags(t *testing.T) {
	o := NewOptions()
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	o.AddFlags(fs)
	err := fs.Parse([]string{
		"--kubeconfig=/k", "--in-cluster=false", "--bind-address=127.0.0.1", "--port=8443", "--metrics-port=8080",
		"--tls-cert=/c", "--tls-key=/k.key", "--tls-min-version=1.3", "--tls-reload-interval=5s", "--http-idle-timeout=1m",
		"--namespace=irsa", "--watch-config-map", "--watch-container-credentials-config=/a.json",
		"--service-account-lookup-grace-period=500ms", "--shutdown-delay=1s", "--shutdown-timeout=3s", "--kube-api=https://10.0.0.1:6443", "--log-level=debug", "--log-format=text",
		"--annotation-prefix=sts.amazonaws.com", "--token-audience=aud", "--token-mount-path=/t", "--token-expiration=3600",
		"--aws-default-region=us-gov-west-1", "--sts-regional-endpoint", "--session-name-from-pod", "--container-credentials-audience=pods",
		"--container-credentials-token-mount-path=/p", "--container-credentials-full-uri=http://127.0.0.1/creds",
		"--container-credentials-token-volume-name=pod-token", "--container-credentials-token-path=jwt",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{
		Kubeconfig: "/k", InCluster: false, BindAddress: "127.0.0.1", Port: 8443, MetricsPort: 8080,
		TLSCert: "/c", TLSKey: "/k.key", TLSMinVersion: "1.3", CertReloadInterval: 5 * time.Second, IdleTimeout: time.Minute,
		Namespace: "irsa", WatchConfigMap: true, WatchContainerCredentialsConfig: "/a.json",
		LookupGracePeriod: 500 * time.Millisecond, ShutdownDelay: time.Second, ShutdownTimeout: 3 * time.Second, APIServer: "https://10.0.0.1:6443", LogLevel: "debug", LogFormat: "text",
		Mutate: mutate.Options{
			AnnotationPrefix: "sts.amazonaws.com", Audience: "aud", MountPath: "/t", TokenExpiration: 3600,
			Region: "us-gov-west-1", RegionalSTS: true, SessionNameFromPod: true, ContainerCredentialsAudience: "pods",
			ContainerCredentialsMountPath: "/p", ContainerCredentialsFullURI: "http://127.0.0.1/creds",
			ContainerCredentialsVolume: "pod-token", ContainerCredentialsTokenFile: "jwt",
		},
	}
	if *o != *want {
		t.Errorf("parsed\n%+v\nwant\n%+v", *o, *want)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("parsed options do not validate: %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	o := NewOptions()
	o.NewLogger(&buf).Debug("hidden")
	o.NewLogger(&buf).Info("shown", "k", "v")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("default log is not one JSON line: %v: %q", err, buf.String())
	}
	if line["msg"] != "shown" || line["k"] != "v" {
		t.Errorf("log line %v", line)
	}

	buf.Reset()
	o.LogLevel, o.LogFormat = "debug", "text"
	o.NewLogger(&buf).Debug("visible")
	if !strings.Contains(buf.String(), "level=DEBUG msg=visible") {
		t.Errorf("text debug log %q", buf.String())
	}

	if l, err := parseLevel("warn"); err != nil || l != slog.LevelWarn {
		t.Errorf("parseLevel(warn) = %v, %v", l, err)
	}
}
