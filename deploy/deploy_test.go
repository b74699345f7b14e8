package deploy

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func find(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

func TestRender(t *testing.T) {
	for _, mode := range Modes {
		objs, err := Render(mode, "registry.example.com/irsa:v1.2.3")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if objs[0].GetKind() != "Namespace" || objs[len(objs)-1].GetKind() != "MutatingWebhookConfiguration" {
			t.Errorf("%s: namespace must come first and the webhook configuration last", mode)
		}
		d := find(objs, "Deployment")
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		if image := containers[0].(map[string]any)["image"]; image != "registry.example.com/irsa:v1.2.3" {
			t.Errorf("%s: image %v", mode, image)
		}
		for _, o := range objs {
			if o.GetLabels()["app.kubernetes.io/part-of"] != "irsa" {
				t.Errorf("%s: %s %s lacks the part-of label teardown relies on", mode, o.GetKind(), o.GetName())
			}
		}
		mwc := find(objs, "MutatingWebhookConfiguration")
		annotations := mwc.GetAnnotations()
		switch mode {
		case CertManager:
			if annotations["cert-manager.io/inject-ca-from"] == "" || find(objs, "Certificate") == nil {
				t.Errorf("cert-manager: no Certificate or CA injection")
			}
		case OpenShift:
			if annotations["service.beta.openshift.io/inject-cabundle"] != "true" {
				t.Errorf("openshift: annotations %v", annotations)
			}
		}
	}
	if _, err := Render("letsencrypt", ""); err == nil || !strings.Contains(err.Error(), "self-signed") {
		t.Errorf("unknown mode: %v", err)
	}
	objs, err := Render(SelfSigned, "")
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(find(objs, "Deployment").Object, "spec", "template", "spec", "containers")
	if image := containers[0].(map[string]any)["image"]; image != "ghcr.io/irsa-dev/irsa:latest" {
		t.Errorf("default image %v", image)
	}
}

func TestImageOverride(t *testing.T) {
	for image, want := range map[string][3]string{
		"registry.example.com/irsa:v1":   {"registry.example.com/irsa", "v1", ""},
		"registry:5000/irsa":             {"registry:5000/irsa", "latest", ""},
		"registry:5000/irsa:v2":          {"registry:5000/irsa", "v2", ""},
		"quay.io/x/irsa@sha256:0123abcd": {"quay.io/x/irsa", "", "sha256:0123abcd"},
	} {
		got := imageOverride(image)
		if [3]string{got.NewName, got.NewTag, got.Digest} != want {
			t.Errorf("%s: %+v, want %v", image, got, want)
		}
	}
}
