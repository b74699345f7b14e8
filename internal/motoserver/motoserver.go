// Package motoserver runs moto_server, the AWS emulator, on 127.0.0.1 for
// tests and the demo, and points AWS clients and plain HTTP fetches at it.
package motoserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/irsa-dev/irsa/internal/childprocess"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// Account is the AWS account id moto answers for.
const Account = "123456789012"

// Credentials moto accepts while its access control is off.
const (
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// ErrNotInstalled says moto_server is not on PATH.
var ErrNotInstalled = errors.New("moto_server not found on PATH (it comes with python3 -m pip install 'moto[server]')")

// Server is a running moto_server.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL  string
	proc *childprocess.Process
	log  string
}

// Start runs moto_server on a free loopback port, logging to dir, and
// waits until it answers.
func Start(dir string) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	ports, err := childprocess.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	s := &Server{URL: "http://127.0.0.1:" + port, log: filepath.Join(dir, "moto.log")}
	log, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", port)
	// moto reads these; a user's own settings must not leak into tests.
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=false", "TEST_SERVER_MODE=false")
	if s.proc, err = childprocess.Start(cmd, log); err != nil {
		return nil, err
	}
	if err := s.proc.WaitHTTP(s.URL+"/moto-api/data.json", 60*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("moto_server did not start: %w\n%s", err, s.LogTail(20))
	}
	return s, nil
}

// Stop ends the server.
func (s *Server) Stop() { s.proc.Stop(5 * time.Second) }

// LogTail returns the last lines of the server's log.
func (s *Server) LogTail(lines int) string {
	data, _ := os.ReadFile(s.log)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// Reset drops every resource, so one server serves many tests.
func (s *Server) Reset() error { return s.post("/moto-api/reset", "") }

// EnableAccessControl makes moto check IAM policies on every call from now
// on, so a role's permissions decide what its credentials may do.
func (s *Server) EnableAccessControl() error {
	return s.post("/moto-api/reset-auth", "0")
}

func (s *Server) post(path, body string) error {
	resp, err := http.Post(s.URL+path, "text/plain", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto %s: %s", path, resp.Status)
	}
	return nil
}

// Env is the environment that points the AWS SDKs and the aws CLI at the
// server, as a user points them at any endpoint.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_S3":         s.URL,
		"AWS_ENDPOINT_URL_IAM":        s.URL,
		"AWS_ENDPOINT_URL_STS":        s.URL,
		"AWS_ENDPOINT_URL_CLOUDFRONT": s.URL,
		"AWS_ACCESS_KEY_ID":           AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
		"AWS_REGION":                  "us-east-1",
		// Nothing from the user's own AWS set-up may be read.
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE":                 "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// Config returns an AWS configuration for region whose every service
// calls the server.
func (s *Server) Config(ctx context.Context, region string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
	)
}

// Fresh empties the server, so a test starts with no AWS resources, and
// returns a configuration for region that calls it. It stops the test on
// error.
func (s *Server) Fresh(t testing.TB, region string) aws.Config {
	t.Helper()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// HTTPClient returns a client that fetches https://BUCKET.s3.REGION.amazonaws.com/KEY
// from the bucket in the server, the way anyone on the internet fetches a
// public object from S3, and every other URL as usual.
func (s *Server) HTTPClient() *http.Client { return s3issuer.EndpointClient(s.URL) }

// RunTests runs the tests of a package against one server, started before
// and stopped after them, and returns the exit code for os.Exit.
func RunTests(m *testing.M, srv **Server) int {
	dir, err := os.MkdirTemp("", "moto-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *srv, err = Start(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer (*srv).Stop()
	return m.Run()
}
