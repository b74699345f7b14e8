package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/webhook"
)

type ctxKey struct{}

// runWebhookCommand executes `irsa webhook args...` with a run function
// that records the options instead of serving.
func runWebhookCommand(t *testing.T, args ...string) (got *webhook.Options, called int, err error) {
	t.Helper()
	ctx := context.WithValue(context.Background(), ctxKey{}, "test")
	cmd := NewWebhookCommand(ctx, func(runCtx context.Context, opts *webhook.Options) error {
		called++
		got = opts
		if runCtx.Value(ctxKey{}) != "test" {
			t.Error("run did not get the command's context")
		}
		return nil
	})
	quiet(cmd)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return got, called, err
}

func quiet(cmd *cobra.Command) {
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
}

func TestWebhookCommandParsesFlags(t *testing.T) {
	got, called, err := runWebhookCommand(t,
		"--annotation-prefix=sts.amazonaws.com",
		"--token-expiration=3600",
		"--aws-default-region=eu-west-1",
		"--sts-regional-endpoint",
		"--in-cluster=false",
		"--watch-config-map",
		"--namespace=irsa-system",
		"--service-account-lookup-grace-period=0",
	)
	if err != nil {
		t.Fatal(err)
	}
	if called != 1 {
		t.Fatalf("run called %d times, want 1", called)
	}
	want := webhook.NewOptions()
	want.Mutate.AnnotationPrefix = "sts.amazonaws.com"
	want.Mutate.TokenExpiration = 3600
	want.Mutate.Region = "eu-west-1"
	want.Mutate.RegionalSTS = true
	want.InCluster = false
	want.WatchConfigMap = true
	want.Namespace = "irsa-system"
	want.LookupGracePeriod = 0
	if *got != *want {
		t.Errorf("options\n%+v\nwant\n%+v", *got, *want)
	}
}

func TestWebhookCommandDefaults(t *testing.T) {
	got, called, err := runWebhookCommand(t)
	if err != nil || called != 1 {
		t.Fatalf("err %v, run called %d times", err, called)
	}
	if *got != *webhook.NewOptions() {
		t.Errorf("options without flags\n%+v\nwant the defaults\n%+v", *got, *webhook.NewOptions())
	}
	if got.LookupGracePeriod != 2*time.Second {
		t.Errorf("lookup grace period %v, want 2s on by default", got.LookupGracePeriod)
	}
}

func TestWebhookCommandRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"below minimum expiration", []string{"--token-expiration=100"}, "--token-expiration: 100 is below the minimum of 600 seconds"},
		{"invalid prefix", []string{"--annotation-prefix=Not A Prefix"}, `--annotation-prefix: "Not A Prefix": `},
		{"bad namespace", []string{"--watch-config-map", "--namespace=Irsa_System"}, `--namespace: "Irsa_System": `},
		{"negative grace period", []string{"--service-account-lookup-grace-period=-1s"}, "--service-account-lookup-grace-period: must not be negative"},
		{"every problem at once", []string{"--port=0", "--log-format=xml"},
			"--port: 0 is not a TCP port\n--log-format: \"xml\": want json or text"},
		{"unparseable number", []string{"--token-expiration=1h"}, `invalid argument "1h" for "--token-expiration"`},
		{"unparseable duration", []string{"--service-account-lookup-grace-period=2"}, `invalid argument "2" for "--service-account-lookup-grace-period"`},
		{"unknown flag", []string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{"positional argument", []string{"serve"}, `unknown command "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, called, err := runWebhookCommand(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if called != 0 {
				t.Errorf("run called %d times with a bad flag", called)
			}
		})
	}
}

func TestWebhookCommandReturnsRunError(t *testing.T) {
	boom := errors.New("listen: address in use")
	cmd := NewWebhookCommand(context.Background(), func(context.Context, *webhook.Options) error { return boom })
	quiet(cmd)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); !errors.Is(err, boom) {
		t.Fatalf("Execute = %v, want %v", err, boom)
	}
}

func TestRootCommandHasWebhook(t *testing.T) {
	root := NewRootCommand(context.Background())
	cmd, _, err := root.Find([]string{"webhook"})
	if err != nil || cmd.Name() != "webhook" {
		t.Fatalf("Find(webhook) = %v, %v", cmd, err)
	}
	for _, flag := range []string{"annotation-prefix", "token-expiration", "aws-default-region", "sts-regional-endpoint",
		"in-cluster", "watch-config-map", "namespace", "service-account-lookup-grace-period", "tls-cert", "tls-key", "port", "metrics-port"} {
		if cmd.Flags().Lookup(flag) == nil {
			t.Errorf("irsa webhook has no --%s", flag)
		}
	}
	// A bad value is refused through the root command too, before anything runs.
	quiet(root)
	root.SetArgs([]string{"webhook", "--token-expiration=1"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--token-expiration: 1 is below the minimum") {
		t.Fatalf("root Execute = %v", err)
	}
}

// An upstream Deployment's arguments start irsa unchanged: flags with no
// meaning here are accepted and ignored, --kube-api is honoured.
func TestWebhookCommandAcceptsUpstreamFlags(t *testing.T) {
	got, called, err := runWebhookCommand(t,
		"--in-cluster=false", "--namespace=eks", "--service-name=pod-identity-webhook",
		"--tls-secret=pod-identity-webhook", "--resync-period=60s", "--enable-debugging-handlers",
		"--logtostderr", "--alsologtostderr", "-v=4", "--kube-api=https://10.0.0.1:6443",
		"--annotation-prefix=eks.amazonaws.com", "--token-audience=sts.amazonaws.com",
	)
	if err != nil || called != 1 {
		t.Fatalf("err %v, run called %d times", err, called)
	}
	want := webhook.NewOptions()
	want.InCluster = false
	want.APIServer = "https://10.0.0.1:6443"
	if *got != *want {
		t.Errorf("options\n%+v\nwant\n%+v", *got, *want)
	}
}
