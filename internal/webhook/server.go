package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/irsa-dev/irsa/internal/identity"
)

var serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

// Run serves the webhook until ctx ends, then drains in-flight requests.
func Run(ctx context.Context, opts *Options, log *slog.Logger) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags(opts.APIServer, opts.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	restConfig.UserAgent = "irsa-webhook"
	restConfig.QPS, restConfig.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	meta, err := metadata.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("kubernetes metadata client: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "irsa-webhook"})

	sa := identity.NewCache(opts.Mutate.AnnotationPrefix, func(ref types.NamespacedName, uid types.UID, err error) {
		log.Warn("invalid ServiceAccount annotation", "serviceAccount", ref.String(), "err", err)
		consequence := "; pods using this ServiceAccount still get their role, without this setting"
		if errors.Is(err, identity.ErrInvalidRoleARN) {
			consequence = "; pods using this ServiceAccount get no AWS identity"
		}
		recorder.Event(&corev1.ObjectReference{Kind: "ServiceAccount", APIVersion: "v1", Namespace: ref.Namespace, Name: ref.Name, UID: uid},
			corev1.EventTypeWarning, "InvalidIRSAAnnotation", err.Error()+consequence)
	})
	metrics := NewMetrics(func() float64 { return float64(sa.Len()) })
	resolver := &identity.Resolver{Cache: sa}
	if opts.LookupGracePeriod > 0 {
		resolver.Lookup = func(ctx context.Context, ref types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
			return meta.Resource(serviceAccounts).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		}
		resolver.LookupTimeout = opts.LookupGracePeriod
	}

	ready := []func() bool{sa.HasSynced}
	reflector := cache.NewReflectorWithOptions(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return meta.Resource(serviceAccounts).List(ctx, o)
		},
		WatchFuncWithContext: meta.Resource(serviceAccounts).Watch,
	}, &metav1.PartialObjectMetadata{}, sa, cache.ReflectorOptions{Name: "serviceaccounts"})
	goRun(func() { reflector.RunWithContext(ctx) })
	goRun(func() { releaseListMemory(ctx, sa.HasSynced) })

	if opts.WatchConfigMap {
		resolver.Mapping = &identity.Mapping{}
		store := &mappingStore{mapping: resolver.Mapping, log: log}
		ready = append(ready, store.HasSynced)
		r := cache.NewReflectorWithOptions(mappingListWatch(kube, opts.Namespace), &corev1.ConfigMap{}, store, cache.ReflectorOptions{Name: "mapping-configmap"})
		goRun(func() { r.RunWithContext(ctx) })
	}
	if opts.WatchContainerCredentialsConfig != "" {
		resolver.Associations = &identity.Associations{}
		f := &associationsPoller{path: opts.WatchContainerCredentialsConfig, set: resolver.Associations, log: log}
		if err := f.load(); err != nil {
			return err
		}
		goRun(func() { f.run(ctx, opts.CertReloadInterval) })
	}

	certs := NewCertWatcher(opts.TLSCert, opts.TLSKey, log, func(err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		metrics.certificateLoads.WithLabelValues(result).Inc()
	})
	ready = append(ready, certs.Loaded)
	goRun(func() { certs.Run(ctx, opts.CertReloadInterval) })

	var stopping atomic.Bool
	health := healthHandlers(func() bool { return !stopping.Load() && all(ready) })
	minTLS, _ := tlsVersion(opts.TLSMinVersion)
	handler := &Handler{Resolver: resolver, Options: opts.Mutate, Metrics: metrics, Log: log}

	webhookMux := http.NewServeMux()
	webhookMux.Handle("/mutate", handler)
	health.register(webhookMux)
	webhookServer := &http.Server{
		Addr:    net.JoinHostPort(opts.BindAddress, strconv.Itoa(opts.Port)),
		Handler: webhookMux,
		TLSConfig: &tls.Config{MinVersion: minTLS, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			metrics.handshakes.Inc()
			return certs.GetCertificate(hello)
		}},
		ReadHeaderTimeout: 10 * time.Second,
		// The API server gives a webhook at most 30 seconds; a client
		// slower than that is holding a connection, not admitting a pod.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  opts.IdleTimeout,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	health.register(metricsMux)
	if opts.Profiling {
		metricsMux.HandleFunc("/debug/pprof/", pprof.Index)
		metricsMux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		metricsMux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	metricsServer := &http.Server{
		Addr:              net.JoinHostPort(opts.BindAddress, strconv.Itoa(opts.MetricsPort)),
		Handler:           metricsMux,
		ReadHeaderTimeout: 10 * time.Second,
	}

	webhookListener, err := net.Listen("tcp", webhookServer.Addr)
	if err != nil {
		return fmt.Errorf("--port: %w", err)
	}
	metricsListener, err := net.Listen("tcp", metricsServer.Addr)
	if err != nil {
		webhookListener.Close()
		return fmt.Errorf("--metrics-port: %w", err)
	}
	errs := make(chan error, 2)
	go func() { errs <- webhookServer.ServeTLS(webhookListener, "", "") }()
	go func() { errs <- metricsServer.Serve(metricsListener) }()
	log.Info("webhook serving", "addr", webhookServer.Addr, "metrics", metricsServer.Addr,
		"annotationPrefix", opts.Mutate.AnnotationPrefix, "pid", os.Getpid())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	// Report not ready and keep serving while the endpoint is taken out of
	// the Service, then stop taking connections and drain the requests in
	// flight; health and metrics stay up until the end.
	stopping.Store(true)
	if serveErr == nil && opts.ShutdownDelay > 0 {
		log.Info("shutting down: not ready, still serving", "delay", opts.ShutdownDelay)
		time.Sleep(opts.ShutdownDelay)
	}
	log.Info("shutting down: draining in-flight requests", "timeout", opts.ShutdownTimeout)
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer done()
	err = webhookServer.Shutdown(shutdownCtx)
	err = errors.Join(err, metricsServer.Shutdown(shutdownCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// releaseListMemory hands the memory of the initial ServiceAccount list back
// to the OS once the cache has synced. The list is garbage by then, but the
// Go runtime would return its pages only gradually, and with many
// ServiceAccounts it is most of the process's footprint.
func releaseListMemory(ctx context.Context, synced func() bool) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !synced() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	debug.FreeOSMemory()
}

func all(checks []func() bool) bool {
	for _, ok := range checks {
		if !ok() {
			return false
		}
	}
	return true
}

type healthHandlers func() bool

func (ready healthHandlers) register(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready: waiting for the serving certificate and the ServiceAccount cache", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
}
