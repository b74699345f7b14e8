package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/irsa-dev/irsa/internal/childprocess"
	"github.com/irsa-dev/irsa/internal/localcluster"
)

// readyTimeout bounds a server's start; ours lists every ServiceAccount
// before it is ready, which takes a while with a hundred thousand.
const readyTimeout = 2 * time.Minute

// server is a webhook under test, running as its own process.
type server struct {
	*child
	// url is where admission requests go.
	url string
	// metricsURL serves /metrics and /readyz; empty for the floor.
	metricsURL string
}

// servers starts the processes under test, alike in all but their code.
type servers struct {
	dir        string
	env        []string
	irsa       string
	kubeconfig string
	certFile   string
	keyFile    string
	// client speaks TLS to both servers; plain reads metrics and readiness.
	client *http.Client
	plain  *http.Client
	body   []byte
	// profiling starts our webhook with /debug/pprof/.
	profiling bool
}

// newServers writes a serving certificate into dir and returns a starter
// for servers presenting it, and a client that trusts it.
func newServers(cfg config, dir, kubeconfig string, body []byte) (*servers, error) {
	ca, err := localcluster.NewCA()
	if err != nil {
		return nil, err
	}
	s := &servers{
		dir: dir, env: serverEnv(), irsa: cfg.irsa, kubeconfig: kubeconfig, body: body,
		certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"),
		plain:     &http.Client{Timeout: 5 * time.Second},
		profiling: cfg.cpuProfile != "",
	}
	if err := ca.WriteServingPair(s.certFile, s.keyFile); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	s.client = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   false,
			MaxIdleConns:        0, // no limit across hosts: both servers keep theirs
			MaxIdleConnsPerHost: cfg.concurrency,
			DisableCompression:  true,
		},
		// The API server's longest webhook timeout; a stuck server fails
		// the run instead of hanging it.
		Timeout: 30 * time.Second,
	}
	return s, nil
}

// cpuProfile records srv's CPU profile for d into file.
func (s *servers) cpuProfile(srv *server, d time.Duration, file string) error {
	client := &http.Client{Timeout: d + 10*time.Second}
	resp, err := client.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.metricsURL, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// closeIdle drops the client's kept-alive connections.
func (s *servers) closeIdle() { s.client.CloseIdleConnections() }

// startOurs runs `irsa webhook` against the cluster and waits until its
// /readyz answers 200, which means the ServiceAccount cache has synced.
func (s *servers) startOurs(ctx context.Context, name string) (*server, error) {
	ports, err := childprocess.FreePorts(2)
	if err != nil {
		return nil, err
	}
	c, err := startChild(name, s.dir, s.env, s.irsa, "webhook",
		"--kubeconfig", s.kubeconfig,
		"--bind-address", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]),
		"--metrics-port", strconv.Itoa(ports[1]),
		"--tls-cert", s.certFile,
		"--tls-key", s.keyFile,
		"--log-level", "warn",
		"--profiling="+strconv.FormatBool(s.profiling))
	if err != nil {
		return nil, err
	}
	srv := &server{child: c,
		url:        fmt.Sprintf("https://127.0.0.1:%d/mutate", ports[0]),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
	}
	return srv, s.ready(ctx, srv, func() error { return s.readyz(srv) })
}

// startFloor runs the floor and waits until it answers an admission request.
func (s *servers) startFloor(ctx context.Context) (*server, error) {
	ports, err := childprocess.FreePorts(1)
	if err != nil {
		return nil, err
	}
	c, err := execFloor(s.dir, s.env, ports[0], s.certFile, s.keyFile)
	if err != nil {
		return nil, err
	}
	srv := &server{child: c, url: fmt.Sprintf("https://127.0.0.1:%d/mutate", ports[0])}
	return srv, s.ready(ctx, srv, func() error { _, _, err := admit(s.client, srv.url, s.body); return err })
}

// ready waits for srv, stopping it if it never gets there.
func (s *servers) ready(ctx context.Context, srv *server, probe func() error) error {
	if err := srv.waitReady(ctx, readyTimeout, probe); err != nil {
		srv.stop()
		return err
	}
	return nil
}

func (s *servers) readyz(srv *server) error {
	resp, err := s.plain.Get(srv.metricsURL + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
}

// gauge reads an unlabelled metric from srv's /metrics.
func (s *servers) gauge(srv *server, name string) (float64, error) {
	resp, err := s.plain.Get(srv.metricsURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(value, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no metric %s", srv.name, name)
}
