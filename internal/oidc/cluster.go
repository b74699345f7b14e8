package oidc

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClusterKeySetPath is where kube-apiserver serves the public keys it signs
// ServiceAccount tokens with.
const ClusterKeySetPath = "/openid/v1/jwks"

// OpenShift keeps every ServiceAccount signing public key, the current one
// and the next ones of a rotation, in this ConfigMap.
const (
	OpenShiftKeysNamespace = "openshift-kube-apiserver"
	OpenShiftKeysConfigMap = "bound-sa-token-signing-certs"
)

// ClusterKeys are the signing keys read from a live cluster.
type ClusterKeys struct {
	Keys []crypto.PublicKey
	// Sources says where the keys came from, one line per source.
	Sources []string
	// Warnings name sources that could not be read although they may hold
	// keys, so the user knows the set may be incomplete.
	Warnings []string
}

// ReadClusterKeys reads the public keys the cluster signs ServiceAccount
// tokens with: the API server's own key set and, on OpenShift, every key in
// the bound-sa-token-signing-certs ConfigMap (it also holds the keys of a
// rotation in progress, which the API server does not serve yet).
func ReadClusterKeys(ctx context.Context, client kubernetes.Interface) (ClusterKeys, error) {
	var out ClusterKeys
	raw, err := client.CoreV1().RESTClient().Get().AbsPath(ClusterKeySetPath).DoRaw(ctx)
	if err != nil {
		return out, fmt.Errorf("read the cluster's key set (%s): %w", ClusterKeySetPath, err)
	}
	keys, err := publicKeysOf(raw)
	if err != nil {
		return out, fmt.Errorf("cluster key set (%s): %w", ClusterKeySetPath, err)
	}
	out.Keys = keys
	out.Sources = append(out.Sources, fmt.Sprintf("%s: %d key(s)", ClusterKeySetPath, len(keys)))

	cm, err := client.CoreV1().ConfigMaps(OpenShiftKeysNamespace).Get(ctx, OpenShiftKeysConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return out, nil // not OpenShift
	case apierrors.IsForbidden(err):
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"cannot read ConfigMap %s/%s (forbidden): on OpenShift it holds the keys of a rotation in progress, which are then missing",
			OpenShiftKeysNamespace, OpenShiftKeysConfigMap))
		return out, nil
	case err != nil:
		return out, fmt.Errorf("read ConfigMap %s/%s: %w", OpenShiftKeysNamespace, OpenShiftKeysConfigMap, err)
	}
	names := make([]string, 0, len(cm.Data))
	for name := range cm.Data {
		names = append(names, name)
	}
	slices.Sort(names)
	n := 0
	for _, name := range names {
		keys, err := ParsePublicKeys([]byte(cm.Data[name]))
		if err != nil {
			return out, fmt.Errorf("ConfigMap %s/%s key %q: %w", OpenShiftKeysNamespace, OpenShiftKeysConfigMap, name, err)
		}
		out.Keys = append(out.Keys, keys...)
		n += len(keys)
	}
	out.Sources = append(out.Sources, fmt.Sprintf("ConfigMap %s/%s: %d key(s)", OpenShiftKeysNamespace, OpenShiftKeysConfigMap, n))
	return out, nil
}

// publicKeysOf returns the public keys of a JSON Web Key Set.
func publicKeysOf(raw []byte) ([]crypto.PublicKey, error) {
	set, err := ParseKeySet(raw)
	if err != nil {
		return nil, err
	}
	keys := make([]crypto.PublicKey, 0, len(set.Keys))
	for _, k := range set.Keys {
		keys = append(keys, k.Key)
	}
	return keys, nil
}

// ReadClusterIssuer returns the issuer the cluster signs ServiceAccount
// tokens with, from the API server's own discovery document.
func ReadClusterIssuer(ctx context.Context, client kubernetes.Interface) (string, error) {
	raw, err := client.CoreV1().RESTClient().Get().AbsPath(DiscoveryPath).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("read the cluster's issuer from %s: %w", DiscoveryPath, err)
	}
	var d Discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", fmt.Errorf("the cluster's %s is not a discovery document: %w", DiscoveryPath, err)
	}
	return d.Issuer, nil
}

// OpenShiftAuthenticationPath is OpenShift's cluster authentication
// config, whose spec.serviceAccountIssuer sets kube-apiserver's issuer; ROSA
// with STS sets it to the issuer AWS already knows.
const OpenShiftAuthenticationPath = "/apis/config.openshift.io/v1/authentications/cluster"

// DiscoverIssuer finds the issuer the cluster signs ServiceAccount tokens
// with: OpenShift's spec.serviceAccountIssuer when it is set, else the API
// server's own discovery document. source says which it was.
func DiscoverIssuer(ctx context.Context, client kubernetes.Interface) (issuer, source string, err error) {
	raw, err := client.CoreV1().RESTClient().Get().AbsPath(OpenShiftAuthenticationPath).DoRaw(ctx)
	switch {
	case err == nil:
		var auth struct {
			Spec struct {
				ServiceAccountIssuer string `json:"serviceAccountIssuer"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(raw, &auth); err != nil {
			return "", "", fmt.Errorf("read %s: %w", OpenShiftAuthenticationPath, err)
		}
		if auth.Spec.ServiceAccountIssuer != "" {
			return auth.Spec.ServiceAccountIssuer, "authentication.config.openshift.io/cluster spec.serviceAccountIssuer", nil
		}
	case !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err):
		return "", "", fmt.Errorf("read %s: %w", OpenShiftAuthenticationPath, err)
	}
	issuer, err = ReadClusterIssuer(ctx, client)
	return issuer, "the API server's " + DiscoveryPath, err
}
