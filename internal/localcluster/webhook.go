package localcluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/irsa-dev/irsa/internal/childprocess"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// Webhook is `irsa webhook` served in this process on 127.0.0.1, with a
// serving certificate from a CA of its own, for tests and the demo.
type Webhook struct {
	// URL is https://127.0.0.1:PORT/mutate; MetricsURL the metrics port's
	// http://127.0.0.1:PORT.
	URL, MetricsURL string
	// CA signed the serving pair in CertFile and KeyFile.
	CA                *CA
	CertFile, KeyFile string
	running           *webhook.Running
}

// StartWebhook serves the webhook against the cluster of kubeconfig, with
// its certificate files in dir, and returns once it is ready. configure,
// when set, adjusts the options first.
func StartWebhook(ctx context.Context, kubeconfig, dir string, log *slog.Logger, configure func(*webhook.Options)) (*Webhook, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	w := &Webhook{CA: ca, CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	if err := ca.WriteServingPair(w.CertFile, w.KeyFile); err != nil {
		return nil, err
	}
	ports, err := childprocess.FreePorts(2)
	if err != nil {
		return nil, err
	}
	opts := webhook.NewOptions()
	opts.Kubeconfig = kubeconfig
	opts.BindAddress = "127.0.0.1"
	opts.Port, opts.MetricsPort = ports[0], ports[1]
	opts.TLSCert, opts.TLSKey = w.CertFile, w.KeyFile
	opts.ShutdownDelay = 0 // no Service to take the endpoint out of
	if configure != nil {
		configure(opts)
	}
	w.URL = fmt.Sprintf("https://127.0.0.1:%d/mutate", opts.Port)
	w.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d", opts.MetricsPort)
	if w.running, err = webhook.Start(ctx, opts, log, 30*time.Second); err != nil {
		return nil, err
	}
	return w, nil
}

// Stop drains and stops the webhook.
func (w *Webhook) Stop() error { return w.running.Stop() }
