package mutate

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/irsa-dev/irsa/internal/jsonscan"
)

// Pod is the part of a Pod the mutation decides on. Everything else in the
// admitted object is never decoded, so fields this program does not know
// (native sidecar restartPolicy, future API fields) cannot be lost: the
// webhook only ever appends to the original object with targeted patch ops.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
}

// ObjectMeta is the slice of metav1.ObjectMeta the mutation reads.
type ObjectMeta struct {
	Name         string      `json:"name,omitempty"`
	GenerateName string      `json:"generateName,omitempty"`
	Namespace    string      `json:"namespace,omitempty"`
	Labels       Labels      `json:"labels,omitempty"`
	Annotations  Annotations `json:"annotations,omitempty"`
}

// Labels are a pod's labels as the mutation sees them: only the opt-out
// label is decoded, whatever else a pod carries costs nothing.
type Labels map[string]string

// Annotations are a pod's annotations as the mutation sees them: only the
// token-expiration, skip-containers and session-name annotations, under any
// prefix.
type Annotations map[string]string

// get returns the annotation prefix/name. It compares in place, so looking
// one up builds no key.
func (a Annotations) get(prefix, name string) (string, bool) {
	for k, v := range a {
		if len(k) == len(prefix)+1+len(name) && k[len(prefix)] == '/' &&
			strings.HasPrefix(k, prefix) && strings.HasSuffix(k, name) {
			return v, true
		}
	}
	return "", false
}

// NodeSelector is what the mutation reads of a pod's node selector: the
// operating system it asks for, under the current and the beta label.
type NodeSelector struct {
	OS     string // kubernetes.io/os
	BetaOS string // beta.kubernetes.io/os
}

// The node labels NodeSelector reads, and the operating systems named the
// same way in every pod.
const (
	labelOS     = "kubernetes.io/os"
	labelBetaOS = "beta.kubernetes.io/os"
	osLinux     = "linux"
	osWindows   = "windows"
)

// The members of labels and annotations that are decoded,
// by the end of their names (any prefix).
var (
	labelSuffixes      = []string{"/skip-pod-identity-webhook"}
	annotationSuffixes = []string{"/" + annotationTokenExpiration, "/" + annotationSkipContainers, "/" + annotationSessionName}
)

// UnmarshalJSONFrom decodes only the opt-out label.
func (l *Labels) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	m, err := decodeSelected(dec, labelSuffixes...)
	*l = m
	return err
}

// UnmarshalJSONFrom decodes only the annotations the mutation reads.
func (a *Annotations) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	m, err := decodeSelected(dec, annotationSuffixes...)
	*a = m
	return err
}

// UnmarshalJSONFrom decodes only the operating system labels.
func (n *NodeSelector) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	m, err := decodeSelected(dec, labelOS)
	*n = NodeSelector{OS: m[labelOS], BetaOS: m[labelBetaOS]}
	return err
}

// decodeSelected reads a JSON object of strings and keeps the members whose
// name ends in one of suffixes; the others are skipped without allocating.
func decodeSelected(dec *jsontext.Decoder, suffixes ...string) (map[string]string, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, fmt.Errorf("want an object of strings, got %v", tok.Kind())
	}
	var m map[string]string
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		name, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			return nil, err
		}
		if !hasSuffix(name, suffixes) {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		value, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if value.Kind() != '"' {
			return nil, fmt.Errorf("%s: want a string, got %v", name, value.Kind())
		}
		if m == nil {
			m = map[string]string{}
		}
		m[string(name)] = value.String()
	}
	_, err = dec.ReadToken()
	return m, err
}

// hasSuffix reports whether the member name ends in one of suffixes.
func hasSuffix(name []byte, suffixes []string) bool {
	for _, s := range suffixes {
		if bytes.HasSuffix(name, []byte(s)) {
			return true
		}
	}
	return false
}

// nameHasSuffix is hasSuffix for the member the scanner is at.
func nameHasSuffix(s *jsonscan.Scanner, suffixes []string) bool {
	for _, suffix := range suffixes {
		if s.NameHasSuffix(suffix) {
			return true
		}
	}
	return false
}

// PodSpec is the slice of corev1.PodSpec the mutation reads.
type PodSpec struct {
	ServiceAccountName string       `json:"serviceAccountName,omitempty"`
	NodeSelector       NodeSelector `json:"nodeSelector,omitempty"`
	OS                 *PodOS       `json:"os,omitempty"`
	InitContainers     []Container  `json:"initContainers,omitempty"`
	Containers         []Container  `json:"containers,omitempty"`
	Volumes            []Volume     `json:"volumes,omitempty"`
}

// PodOS names the operating system the pod runs on.
type PodOS struct {
	Name string `json:"name"`
}

// Container is the slice of corev1.Container the mutation reads.
type Container struct {
	Name         string        `json:"name"`
	Env          EnvNames      `json:"env,omitempty"`
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
}

// EnvNames is what the mutation reads of a container's env: how many
// variables it sets, and which of the variables it injects are among them.
// No other name is kept: whether a container sets it never matters.
type EnvNames struct {
	Len      int
	Injected []string
}

// injectedEnv are the only variable names a container's env is read for.
var injectedEnv = []string{
	EnvRoleARN, EnvWebIdentityTokenFile, EnvSTSRegionalEndpoints, EnvRegion, EnvDefaultRegion,
	EnvContainerCredentialsURI, EnvContainerAuthorizationFile, EnvRoleSessionName,
}

// injectedName returns the injected variable that name is, if it is one.
func injectedName(name []byte) (string, bool) {
	for _, injected := range injectedEnv {
		if string(name) == injected {
			return injected, true
		}
	}
	return "", false
}

// UnmarshalJSONFrom counts the variables and keeps the names of injected
// ones.
func (e *EnvNames) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var all []struct {
		Name jsontext.Value `json:"name"`
	}
	if err := json.UnmarshalDecode(dec, &all); err != nil {
		return err
	}
	*e = EnvNames{Len: len(all)}
	for _, v := range all {
		if v.Name.Kind() != '"' {
			continue
		}
		unquoted, err := jsontext.AppendUnquote(nil, v.Name)
		if err != nil {
			return err
		}
		if name, ok := injectedName(unquoted); ok {
			e.Injected = append(e.Injected, name)
		}
	}
	return nil
}

// EnvVar is an environment variable the mutation adds.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where the kubelet reads a variable's value: only a field
// of the pod is modelled.
type EnvVarSource struct {
	FieldRef ObjectFieldSelector `json:"fieldRef"`
}

// ObjectFieldSelector names a field of the pod (the downward API).
type ObjectFieldSelector struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath"`
}

// VolumeMount is a container's mount of a pod volume.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// Volume is a pod volume; only projected ServiceAccount token sources are
// modelled, which is enough to recognise the volume this webhook adds.
type Volume struct {
	Name      string     `json:"name"`
	Projected *Projected `json:"projected,omitempty"`
}

// Projected is a projected volume source.
type Projected struct {
	Sources []ProjectedSource `json:"sources"`
}

// ProjectedSource is one source of a projected volume.
type ProjectedSource struct {
	ServiceAccountToken *TokenProjection `json:"serviceAccountToken,omitempty"`
}

// TokenProjection is a projected ServiceAccount token.
type TokenProjection struct {
	Audience          string `json:"audience,omitempty"`
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
	Path              string `json:"path"`
}

// DecodeOptions are how a Pod is decoded: keys match case-sensitively, as
// in the API server's own decoder. Duplicate keys are allowed because
// checking costs time on every request and the API server, which
// re-serialises every object, never sends any.
var DecodeOptions = jsontext.AllowDuplicateNames(true)

// DecodePod reads the parts of a Pod the mutation decides on from the JSON
// the API server sends.
func DecodePod(data []byte) (*Pod, error) {
	var p Pod
	if err := json.Unmarshal(data, &p, DecodeOptions); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return &p, nil
}

// ServiceAccountName returns the pod's ServiceAccount, "default" when unset,
// as the API server's ServiceAccount admission plugin does.
func (p *Pod) ServiceAccountName() string {
	if p.Spec.ServiceAccountName == "" {
		return "default"
	}
	return p.Spec.ServiceAccountName
}

// isWindows reports whether the pod is scheduled to Windows nodes.
func (p *Pod) isWindows() bool {
	if p.Spec.OS != nil && p.Spec.OS.Name == osWindows {
		return true
	}
	return p.Spec.NodeSelector.OS == osWindows || p.Spec.NodeSelector.BetaOS == osWindows
}
