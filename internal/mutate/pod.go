package mutate

import "encoding/json"

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
	Name         string            `json:"name,omitempty"`
	GenerateName string            `json:"generateName,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// PodSpec is the slice of corev1.PodSpec the mutation reads.
type PodSpec struct {
	ServiceAccountName string            `json:"serviceAccountName,omitempty"`
	NodeSelector       map[string]string `json:"nodeSelector,omitempty"`
	OS                 *PodOS            `json:"os,omitempty"`
	InitContainers     []Container       `json:"initContainers,omitempty"`
	Containers         []Container       `json:"containers,omitempty"`
	Volumes            []Volume          `json:"volumes,omitempty"`
}

// PodOS names the operating system the pod runs on.
type PodOS struct {
	Name string `json:"name"`
}

// Container is the slice of corev1.Container the mutation reads.
type Container struct {
	Name         string        `json:"name"`
	Env          []EnvVar      `json:"env,omitempty"`
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
}

// EnvVar is an environment variable; only its name matters for decisions,
// the value is kept for tests that read the mutated pod.
type EnvVar struct {
	Name      string          `json:"name"`
	Value     string          `json:"value,omitempty"`
	ValueFrom json.RawMessage `json:"valueFrom,omitempty"`
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
	if p.Spec.OS != nil && p.Spec.OS.Name == "windows" {
		return true
	}
	return p.Spec.NodeSelector["kubernetes.io/os"] == "windows" ||
		p.Spec.NodeSelector["beta.kubernetes.io/os"] == "windows"
}
