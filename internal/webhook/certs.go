package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// errNoCertificate is returned to TLS clients before any certificate loaded.
var errNoCertificate = errors.New("no serving certificate loaded yet")

// CertWatcher serves the certificate in a pair of PEM files and picks up
// new content without a restart. A half-written pair (new certificate, old
// key) is not loaded: the previous pair stays in use until both match.
type CertWatcher struct {
	certFile, keyFile string
	log               *slog.Logger
	onLoad            func(err error)

	mu              sync.RWMutex
	cert            *tls.Certificate
	certPEM, keyPEM []byte
	lastErr         string
}

// NewCertWatcher returns a watcher for the pair; onLoad, if not nil, is told
// the result of every load attempt that saw changed files.
func NewCertWatcher(certFile, keyFile string, log *slog.Logger, onLoad func(error)) *CertWatcher {
	return &CertWatcher{certFile: certFile, keyFile: keyFile, log: log, onLoad: onLoad}
}

// Loaded reports whether a certificate is being served.
func (w *CertWatcher) Loaded() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cert != nil
}

// GetCertificate is the tls.Config hook.
func (w *CertWatcher) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.cert == nil {
		return nil, errNoCertificate
	}
	return w.cert, nil
}

// Reload reads both files and swaps the certificate if they changed and form
// a valid pair.
func (w *CertWatcher) Reload() error {
	certPEM, err := os.ReadFile(w.certFile)
	if err != nil {
		return w.failed(fmt.Errorf("read --tls-cert: %w", err))
	}
	keyPEM, err := os.ReadFile(w.keyFile)
	if err != nil {
		return w.failed(fmt.Errorf("read --tls-key: %w", err))
	}
	w.mu.Lock()
	unchanged := bytes.Equal(certPEM, w.certPEM) && bytes.Equal(keyPEM, w.keyPEM)
	if unchanged {
		w.lastErr = "" // readable again: the next failure is news
	}
	w.mu.Unlock()
	if unchanged {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return w.failed(fmt.Errorf("load %s and %s: %w", w.certFile, w.keyFile, err))
	}
	w.mu.Lock()
	w.cert, w.certPEM, w.keyPEM, w.lastErr = &cert, certPEM, keyPEM, ""
	w.mu.Unlock()
	w.log.Info("serving certificate loaded", "cert", w.certFile, "notAfter", cert.Leaf.NotAfter)
	if w.onLoad != nil {
		w.onLoad(nil)
	}
	return nil
}

// failed logs a load error once per distinct error, so a missing file being
// polled does not flood the log.
func (w *CertWatcher) failed(err error) error {
	w.mu.Lock()
	repeated := w.lastErr == err.Error()
	w.lastErr = err.Error()
	w.mu.Unlock()
	if !repeated {
		w.log.Error("serving certificate not loaded", "err", err)
		if w.onLoad != nil {
			w.onLoad(err)
		}
	}
	return err
}

// Run reloads every interval until ctx ends.
func (w *CertWatcher) Run(ctx context.Context, interval time.Duration) {
	_ = w.Reload()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = w.Reload()
		}
	}
}
