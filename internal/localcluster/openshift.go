package localcluster

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var (
	crdResource            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	authenticationResource = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "authentications"}
)

// authenticationCRD is the name of OpenShift's authentication config CRD.
const authenticationCRD = "authentications.config.openshift.io"

// InstallOpenShiftAuthentication makes the cluster look like OpenShift to
// issuer discovery: the authentication.config.openshift.io CRD and its
// object "cluster" with spec.serviceAccountIssuer set to issuer. The
// returned function removes both.
func (c *Cluster) InstallOpenShiftAuthentication(ctx context.Context, issuer string) (remove func(), err error) {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": authenticationCRD},
		"spec": map[string]any{
			"group": "config.openshift.io",
			"names": map[string]any{"plural": "authentications", "singular": "authentication", "kind": "Authentication", "listKind": "AuthenticationList"},
			"scope": "Cluster",
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	if _, err := dyn.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	remove = func() {
		_ = dyn.Resource(crdResource).Delete(context.Background(), authenticationCRD, metav1.DeleteOptions{})
	}
	auth := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1", "kind": "Authentication",
		"metadata": map[string]any{"name": "cluster"},
		"spec":     map[string]any{"serviceAccountIssuer": issuer},
	}}
	// A new resource takes a moment to be served.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := dyn.Resource(authenticationResource).Create(ctx, auth, metav1.CreateOptions{})
		if err == nil {
			return remove, nil
		}
		if time.Now().After(deadline) {
			remove()
			return nil, fmt.Errorf("create authentication.config.openshift.io/cluster: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
