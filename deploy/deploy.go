// Package deploy holds the manifests that install `irsa webhook` in a
// cluster (kustomize base and overlays, in this folder) and renders them
// for one certificate mode.
package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

//go:embed base overlays
var manifests embed.FS

// Certificate modes: who gives the webhook its serving certificate.
const (
	// CertManager: cert-manager (already installed) issues it.
	CertManager = "cert-manager"
	// OpenShift: OpenShift's service CA operator issues it.
	OpenShift = "openshift"
	// SelfSigned: irsa makes a CA and the certificate itself and puts
	// them in the cluster (the base, with the Secret and caBundle added by
	// the caller).
	SelfSigned = "self-signed"
)

// Modes lists the certificate modes.
var Modes = []string{SelfSigned, CertManager, OpenShift}

// Namespace is where the webhook runs.
const Namespace = "irsa-system"

// Names of the objects the manifests make.
const (
	Name       = "irsa-webhook"
	TLSSecret  = "irsa-webhook-tls"
	WebhookCfg = "irsa-webhook"
)

// Render returns the objects that install the webhook in mode, with image
// as the webhook's image (empty keeps the manifests' own).
func Render(mode, image string) ([]*unstructured.Unstructured, error) {
	dir := "base"
	switch mode {
	case SelfSigned:
	case CertManager, OpenShift:
		dir = path.Join("overlays", mode)
	default:
		return nil, fmt.Errorf("certificate mode %q: want one of %v", mode, Modes)
	}
	mem, err := memoryCopy()
	if err != nil {
		return nil, err
	}
	target := dir
	if image != "" {
		// A kustomization of our own on top sets the image, as a user's would.
		target = "render"
		k := types.Kustomization{Resources: []string{"../" + dir}, Images: []types.Image{imageOverride(image)}}
		k.FixKustomization()
		data, err := yaml.Marshal(k)
		if err != nil {
			return nil, err
		}
		if err := mem.WriteFile("/render/kustomization.yaml", data); err != nil {
			return nil, err
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/"+target)
	if err != nil {
		return nil, fmt.Errorf("render deploy/%s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		// Decoded as the API machinery decodes objects (int64, not int).
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	// Namespaces first, webhook configuration last: what a pod creation
	// would call must exist before it is registered.
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int { return order(a) - order(b) })
	return out, nil
}

// imageOverride replaces the manifests' image with image: a name with a
// tag, a digest or neither (then tag latest).
func imageOverride(image string) types.Image {
	img := types.Image{Name: "ghcr.io/irsa-dev/irsa", NewName: image, NewTag: "latest"}
	if name, digest, ok := strings.Cut(image, "@"); ok {
		img.NewName, img.NewTag, img.Digest = name, "", digest
	} else if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		img.NewName, img.NewTag = image[:i], image[i+1:]
	}
	return img
}

func order(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "Namespace":
		return 0
	case "MutatingWebhookConfiguration":
		return 2
	}
	return 1
}

// memoryCopy copies the embedded manifests into an in-memory file system
// kustomize can read.
func memoryCopy() (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(manifests, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := manifests.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, data)
	})
	return mem, err
}
