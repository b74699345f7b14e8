package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Request outcomes, the values of the "outcome" label.
const (
	outcomeMutated   = "mutated"
	outcomeUnchanged = "unchanged"
	outcomeIgnored   = "ignored"
	outcomeBadInput  = "bad_request"
	outcomeError     = "error"
)

// Metrics are the webhook's Prometheus metrics, on their own registry so
// several servers can run in one process (tests, benchmarks).
type Metrics struct {
	Registry *prometheus.Registry

	requests         *prometheus.CounterVec
	duration         prometheus.Histogram
	mutations        *prometheus.CounterVec
	cacheMisses      *prometheus.CounterVec
	invalid          prometheus.Counter
	warnings         prometheus.Counter
	serviceAccounts  prometheus.GaugeFunc
	certificateLoads *prometheus.CounterVec
	handshakes       prometheus.Counter
}

// NewMetrics registers the webhook's metrics. cacheSize reports how many
// ServiceAccounts the cache holds.
func NewMetrics(cacheSize func() float64) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irsa_webhook_requests_total",
			Help: "Admission requests by outcome: mutated, unchanged, ignored (not a pod creation), bad_request, error.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "irsa_webhook_request_duration_seconds",
			Help:    "Time to answer an admission request, from body read to response written.",
			Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}),
		mutations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irsa_webhook_mutations_total",
			Help: "Pods given an identity, by mode (web-identity, container-credentials) and source (annotation, config-map, pod-identity).",
		}, []string{"mode", "source"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irsa_identity_cache_misses_total",
			Help: "Pods whose ServiceAccount the cache did not know, by what the direct lookup found: found, not_found, error, disabled.",
		}, []string{"result"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "irsa_webhook_invalid_annotations_total",
			Help: "Pods whose ServiceAccount has an invalid annotation.",
		}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "irsa_webhook_warnings_total",
			Help: "Pods admitted with a warning: a conflicting volume or mount, a bad pod annotation.",
		}),
		certificateLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "irsa_webhook_certificate_loads_total",
			Help: "Serving certificate reloads by result: ok or error.",
		}, []string{"result"}),
	}
	m.handshakes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "irsa_webhook_tls_handshakes_total",
		Help: "TLS handshakes that asked for the serving certificate (new connections from the API server).",
	})
	m.serviceAccounts = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "irsa_identity_cache_service_accounts",
		Help: "ServiceAccounts known to the identity cache.",
	}, cacheSize)
	m.Registry.MustRegister(m.requests, m.duration, m.mutations, m.cacheMisses, m.invalid,
		m.warnings, m.certificateLoads, m.handshakes, m.serviceAccounts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
