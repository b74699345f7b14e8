package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// How the ServiceAccounts of the memory figure are laid out and created.
const (
	saNamespaces  = 100
	createWorkers = 32
	// boundEvery: one ServiceAccount in this many is annotated with a role.
	boundEvery = 10
)

// settle is how long a server is left alone before its memory is read, so
// start-up garbage has had a chance to be collected the ordinary way.
const settle = 3 * time.Second

// Metrics of our webhook the memory figure reads.
const (
	// cacheGauge counts the ServiceAccounts in the identity cache.
	cacheGauge = "irsa_identity_cache_service_accounts"
	// heapGauge is the Go heap in use: live objects and garbage not yet
	// collected. RSS above it is mostly memory the runtime has not yet
	// returned to the kernel.
	heapGauge = "go_memstats_heap_inuse_bytes"
)

// footprint is our webhook's memory as the kernel and the Go runtime see it.
type footprint struct {
	memory
	heapInUse float64
}

// measureFootprint leaves srv alone for settle, then reads its memory.
func (s *servers) measureFootprint(ctx context.Context, srv *server) (footprint, error) {
	if err := sleep(ctx, settle); err != nil {
		return footprint{}, err
	}
	mem, err := srv.memory()
	if err != nil {
		return footprint{}, err
	}
	heap, err := s.gauge(srv, heapGauge)
	return footprint{memory: mem, heapInUse: heap}, err
}

// loadedMemory is our webhook's memory over a cluster full of
// ServiceAccounts.
type loadedMemory struct {
	serviceAccounts int
	createTook      time.Duration
	footprint       footprint
	cached          float64
}

// measureLoaded fills the cluster with n ServiceAccounts, then starts a
// fresh webhook and reads its memory and cache size once it is ready.
func measureLoaded(ctx context.Context, admin *rest.Config, s *servers, n int) (*loadedMemory, error) {
	start := time.Now()
	if err := createServiceAccounts(ctx, admin, n); err != nil {
		return nil, err
	}
	lm := &loadedMemory{serviceAccounts: n, createTook: time.Since(start)}
	progress("created %d ServiceAccounts in %s; starting a fresh webhook", n, lm.createTook.Round(100*time.Millisecond))

	ours, err := s.startOurs(ctx, "irsa-loaded")
	if err != nil {
		return nil, err
	}
	defer ours.stop()
	if lm.footprint, err = s.measureFootprint(ctx, ours); err != nil {
		return nil, err
	}
	if lm.cached, err = s.gauge(ours, cacheGauge); err != nil {
		return nil, err
	}
	return lm, nil
}

// createServiceAccounts creates n ServiceAccounts over saNamespaces
// namespaces. It uses the admin credentials without a client-side rate
// limit and with protobuf, so the API server, not the client, sets the pace.
func createServiceAccounts(ctx context.Context, admin *rest.Config, n int) error {
	cfg := rest.CopyConfig(admin)
	cfg.QPS = -1 // no client-side rate limiter
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i := range min(n, saNamespaces) {
		namespace, _, _ := serviceAccount(i)
		if err := createNamespace(ctx, client, namespace); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Go(func() {
			for i := range next {
				namespace, name, roleARN := serviceAccount(i)
				if err := ensureServiceAccount(ctx, client, namespace, name, roleARN); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// serviceAccount names the i-th ServiceAccount and its role; one in
// boundEvery has one.
func serviceAccount(i int) (namespace, name, roleARN string) {
	if i%boundEvery == 0 {
		roleARN = fmt.Sprintf("arn:aws:iam::111122223333:role/bench-%06d", i)
	}
	return fmt.Sprintf("bench-sa-%02d", i%saNamespaces), fmt.Sprintf("sa-%06d", i), roleARN
}

// ensureServiceAccount creates a ServiceAccount, annotated with roleARN
// unless it is empty; one that exists is fine.
func ensureServiceAccount(ctx context.Context, client kubernetes.Interface, namespace, name, roleARN string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if roleARN != "" {
		sa.Annotations = map[string]string{roleARNAnnotation: roleARN}
	}
	_, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return nil
}

// createNamespace creates a namespace; one that exists is fine.
func createNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}
