// Package mutate decides how a pod is changed to receive its AWS identity.
//
// The decision is a pure function of the pod, the identity its
// ServiceAccount is bound to and the webhook's options: no API calls, no
// clocks, no logging. It returns targeted JSON Patch operations that only
// append, so a pod is never re-serialised through Go types that might not
// know all of its fields.
package mutate

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Mode names how a pod receives AWS credentials.
type Mode string

const (
	// ModeWebIdentity injects a projected token and AWS_ROLE_ARN, for STS
	// AssumeRoleWithWebIdentity (IAM Roles for Service Accounts).
	ModeWebIdentity Mode = "web-identity"
	// ModeContainerCredentials injects a projected token and the container
	// credentials endpoint (EKS Pod Identity).
	ModeContainerCredentials Mode = "container-credentials"
)

// Names the mutation uses and the defaults of its options.
const (
	DefaultAnnotationPrefix = "eks.amazonaws.com"
	DefaultAudience         = "sts.amazonaws.com"
	DefaultMountPath        = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	DefaultTokenExpiration  = int64(86400)
	// MinTokenExpiration is the shortest lifetime the API server accepts
	// for a projected token.
	MinTokenExpiration = int64(600)
	// MaxTokenExpiration caps requested lifetimes, as the upstream webhook does.
	MaxTokenExpiration = int64(1<<32 - 1)

	VolumeName = "aws-iam-token"
	TokenFile  = "token"

	DefaultContainerCredentialsAudience  = "pods.eks.amazonaws.com"
	DefaultContainerCredentialsFullURI   = "http://169.254.170.23/v1/credentials"
	DefaultContainerCredentialsMountPath = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	DefaultContainerCredentialsVolume    = "eks-pod-identity-token"
	DefaultContainerCredentialsTokenFile = "eks-pod-identity-token"

	// SkipLabel on a pod opts it out; the shipped objectSelector uses it too.
	SkipLabel = "eks.amazonaws.com/skip-pod-identity-webhook"

	annotationTokenExpiration = "token-expiration"
	annotationSkipContainers  = "skip-containers"
	annotationSessionName     = "session-name"
)

// Environment variables the AWS SDKs read.
const (
	EnvRoleARN                    = "AWS_ROLE_ARN"
	EnvWebIdentityTokenFile       = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvSTSRegionalEndpoints       = "AWS_STS_REGIONAL_ENDPOINTS"
	EnvRegion                     = "AWS_REGION"
	EnvDefaultRegion              = "AWS_DEFAULT_REGION"
	EnvContainerCredentialsURI    = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerAuthorizationFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	EnvRoleSessionName            = "AWS_ROLE_SESSION_NAME"
)

// Values of the session-name annotation, on a ServiceAccount or a pod.
const (
	SessionNamePod = "pod"
	SessionNameOff = "false"
)

// STS accepts session names of 2 to 64 characters of [\w+=,.@-]. Pod names
// are DNS-1123 subdomains, always of those characters but up to 253 long.
const (
	minSessionName = 2
	maxSessionName = 64
)

// How the API server names a pod created with generateName (its
// names.SimpleNameGenerator): the prefix cut to 58 characters, then 5
// random ones.
const (
	maxGenerateName = 58
	generatedSuffix = 5
)

// Identity is the AWS identity a pod's ServiceAccount is bound to.
type Identity struct {
	Mode Mode
	// RoleARN is the role to assume in ModeWebIdentity.
	RoleARN string
	// Audience overrides the token audience; empty means the default.
	Audience string
	// RegionalSTS overrides the webhook's regional STS default when set.
	RegionalSTS *bool
	// TokenExpiration in seconds overrides the webhook default when non-zero.
	TokenExpiration int64
	// SessionNameFromPod overrides the webhook's session-name default when set.
	SessionNameFromPod *bool
}

// Options are the webhook-wide settings of the mutation.
type Options struct {
	// AnnotationPrefix prefixes the pod annotations read (skip-containers,
	// token-expiration, session-name).
	AnnotationPrefix string
	// Audience is the token audience unless the identity names one.
	Audience string
	// MountPath is where containers find the token.
	MountPath string
	// TokenExpiration is the token lifetime in seconds unless the pod or the
	// identity says otherwise.
	TokenExpiration int64
	// Region, when set, is injected as AWS_REGION and AWS_DEFAULT_REGION.
	Region string
	// RegionalSTS injects AWS_STS_REGIONAL_ENDPOINTS=regional by default.
	RegionalSTS bool
	// SessionNameFromPod injects AWS_ROLE_SESSION_NAME from the pod's name by
	// default, in web identity mode.
	SessionNameFromPod bool

	// The Pod Identity (container credentials) token audience, endpoint,
	// mount path, volume name and token file name.
	ContainerCredentialsAudience  string
	ContainerCredentialsFullURI   string
	ContainerCredentialsMountPath string
	ContainerCredentialsVolume    string
	ContainerCredentialsTokenFile string
}

// DefaultOptions returns the options of an unconfigured webhook.
func DefaultOptions() Options {
	return Options{
		AnnotationPrefix:              DefaultAnnotationPrefix,
		Audience:                      DefaultAudience,
		MountPath:                     DefaultMountPath,
		TokenExpiration:               DefaultTokenExpiration,
		ContainerCredentialsAudience:  DefaultContainerCredentialsAudience,
		ContainerCredentialsFullURI:   DefaultContainerCredentialsFullURI,
		ContainerCredentialsMountPath: DefaultContainerCredentialsMountPath,
		ContainerCredentialsVolume:    DefaultContainerCredentialsVolume,
		ContainerCredentialsTokenFile: DefaultContainerCredentialsTokenFile,
	}
}

// patch writes a JSON Patch (RFC 6902) document of add operations
// straight into a buffer: it runs for every pod, and the paths and values
// have fixed shapes (a test holds them to the JSON encoder's output).
type patch struct {
	buf []byte
	ops int
}

// add starts an add operation at /spec/<field>/<index><list>, ending in
// "/-" when it appends one element to that list (index < 0 leaves the
// index out). The caller appends its value and then calls end. The path's
// parts are field names, an index, "/-" and "/": nothing a JSON string or
// pointer escapes.
func (w *patch) add(field string, index int, list string, appendOne bool) {
	if w.ops == 0 {
		w.buf = append(w.buf, '[')
	} else {
		w.buf = append(w.buf, ',')
	}
	w.ops++
	w.buf = append(w.buf, `{"op":"add","path":"/spec/`...)
	w.buf = append(w.buf, field...)
	if index >= 0 {
		w.buf = strconv.AppendInt(append(w.buf, '/'), int64(index), 10)
	}
	w.buf = append(w.buf, list...)
	if appendOne {
		w.buf = append(w.buf, "/-"...)
	}
	w.buf = append(w.buf, `","value":`...)
}

func (w *patch) end() { w.buf = append(w.buf, '}') }

// addElement adds the element that appendElement writes to the list at
// /spec/<field>/<index><list>: an append when the list exists, else the
// list itself, holding the element.
func (w *patch) addElement(field string, index int, list string, exists bool, appendElement func([]byte) []byte) {
	w.add(field, index, list, exists)
	if exists {
		w.buf = appendElement(w.buf)
	} else {
		w.buf = append(appendElement(append(w.buf, '[')), ']')
	}
	w.end()
}

// document returns the patch, or nil when it has no operation.
func (w *patch) document() []byte {
	if w.ops == 0 {
		return nil
	}
	return append(w.buf, ']')
}

// Result is the outcome of a mutation.
type Result struct {
	// Patch is a JSON Patch document of add operations, or nil when the
	// pod needs no change.
	Patch []byte
	// Warnings explain what was not injected and why; the API server shows
	// them to the user who created the pod.
	Warnings []string
}

// plan is what one mode injects.
type plan struct {
	volume     string
	mountPath  string
	tokenFile  string
	audience   string
	expiration int64
	// env holds groups of variables: a group is added whole, and only when
	// the container sets none of its variables, so a container's own region
	// or credentials are never mixed with injected ones. They are held in
	// arrays, as a plan is made for every pod.
	env    [maxEnvGroups]envGroup
	groups int
	// cleanMountPath is mountPath cleaned, to compare mounts with.
	cleanMountPath string
}

// The most groups a plan has (credentials, session name, regional STS,
// region), and the most variables in a group.
const (
	maxEnvGroups = 4
	maxGroupEnv  = 2
)

// envGroup is one group of a plan's variables.
type envGroup struct {
	vars [maxGroupEnv]EnvVar
	n    int
}

// addEnv adds a group of variables to the plan.
func (p *plan) addEnv(vars ...EnvVar) {
	g := &p.env[p.groups]
	g.n = copy(g.vars[:], vars)
	p.groups++
}

// envGroups returns the plan's groups of variables.
func (p *plan) envGroups() []envGroup { return p.env[:p.groups] }

// podNameEnv is where AWS_ROLE_SESSION_NAME comes from: the kubelet
// resolves it when it starts the container, so a name the API server has
// yet to generate is no matter.
var podNameEnv = &EnvVarSource{FieldRef: ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}

// mount is the token's mount in every container.
func (p *plan) mount() VolumeMount {
	return VolumeMount{Name: p.volume, MountPath: p.mountPath, ReadOnly: true}
}

func appendMount(dst []byte, m VolumeMount) []byte {
	dst = appendString(append(dst, `{"name":`...), m.Name)
	dst = appendString(append(dst, `,"mountPath":`...), m.MountPath)
	if m.ReadOnly {
		dst = append(dst, `,"readOnly":true`...)
	}
	return append(dst, '}')
}

func appendEnv(dst []byte, e EnvVar) []byte {
	dst = appendString(append(dst, `{"name":`...), e.Name)
	if e.Value != "" {
		dst = appendString(append(dst, `,"value":`...), e.Value)
	}
	if e.ValueFrom != nil {
		f := e.ValueFrom.FieldRef
		dst = append(dst, `,"valueFrom":{"fieldRef":{`...)
		if f.APIVersion != "" {
			dst = appendString(append(dst, `"apiVersion":`...), f.APIVersion)
			dst = append(dst, ',')
		}
		dst = appendString(append(dst, `"fieldPath":`...), f.FieldPath)
		dst = append(dst, `}}`...)
	}
	return append(dst, '}')
}

func appendVolume(dst []byte, v Volume) []byte {
	t := v.Projected.Sources[0].ServiceAccountToken
	dst = appendString(append(dst, `{"name":`...), v.Name)
	dst = append(dst, `,"projected":{"sources":[{"serviceAccountToken":{`...)
	if t.Audience != "" {
		dst = appendString(append(dst, `"audience":`...), t.Audience)
		dst = append(dst, ',')
	}
	if t.ExpirationSeconds != nil {
		dst = strconv.AppendInt(append(dst, `"expirationSeconds":`...), *t.ExpirationSeconds, 10)
		dst = append(dst, ',')
	}
	dst = appendString(append(dst, `"path":`...), t.Path)
	return append(dst, `}}]}}`...)
}

// appendString appends s as a JSON string, escaped as the JSON encoder
// escapes it.
func appendString(dst []byte, s string) []byte {
	// Invalid UTF-8 comes back replaced, with an error that is dropped:
	// only a flag can carry it, and option validation rejects it.
	out, _ := jsontext.AppendQuote(dst, s)
	return out
}

// Inject returns how pod is changed to receive identity. The patch is
// written into buf's memory, which may be nil; a webhook passes one it
// recycles. Calling Inject again on the patched pod returns no patch.
func Inject(buf []byte, pod *Pod, id Identity, opts Options) Result {
	var res Result
	if pod.Metadata.Labels[SkipLabel] == "true" {
		return res
	}
	p := newPlan(pod, id, opts, &res)

	volumeExists := false
	for _, v := range pod.Spec.Volumes {
		if v.Name != p.volume {
			continue
		}
		if !isTokenVolume(v, p.tokenFile) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"pod identity not injected: the pod already has a volume named %q that is not a projected ServiceAccount token; rename it", p.volume))
			return res
		}
		if aud := v.Projected.Sources[0].ServiceAccountToken.Audience; aud != p.audience {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"pod identity not injected: the pod's %q volume requests a token for audience %q, not %q, which STS would refuse; remove the volume", p.volume, aud, p.audience))
			return res
		}
		volumeExists = true
	}

	w := patch{buf: buf[:0]}
	skipList, _ := pod.Metadata.Annotations.get(opts.AnnotationPrefix, annotationSkipContainers)
	skip := skippedContainers(skipList)
	injected := false
	for _, list := range []struct {
		field      string
		containers []Container
	}{{"initContainers", pod.Spec.InitContainers}, {"containers", pod.Spec.Containers}} {
		for i := range list.containers {
			c := &list.containers[i]
			if skip[c.Name] {
				continue
			}
			if warning := containerOps(&w, list.field, i, c, &p); warning != "" {
				res.Warnings = append(res.Warnings, warning)
				continue
			}
			injected = true
		}
	}
	if injected && !volumeExists {
		w.addElement("volumes", -1, "", len(pod.Spec.Volumes) > 0, func(dst []byte) []byte {
			return appendVolume(dst, tokenVolume(&p))
		})
	}
	res.Patch = w.document()
	return res
}

func newPlan(pod *Pod, id Identity, opts Options, res *Result) plan {
	windows := pod.isWindows()
	var p plan
	if id.Mode == ModeContainerCredentials {
		p = plan{
			volume:    opts.ContainerCredentialsVolume,
			mountPath: opts.ContainerCredentialsMountPath,
			tokenFile: opts.ContainerCredentialsTokenFile,
			audience:  opts.ContainerCredentialsAudience,
		}
		p.expiration = tokenExpiration(pod, id, opts, res)
		p.addEnv(
			EnvVar{Name: EnvContainerCredentialsURI, Value: opts.ContainerCredentialsFullURI},
			EnvVar{Name: EnvContainerAuthorizationFile, Value: tokenPath(p.mountPath, p.tokenFile, windows)},
		)
	} else {
		p = plan{
			volume:    VolumeName,
			mountPath: opts.MountPath,
			tokenFile: TokenFile,
			audience:  opts.Audience,
		}
		if id.Audience != "" {
			p.audience = id.Audience
		}
		p.expiration = tokenExpiration(pod, id, opts, res)
		p.addEnv(
			EnvVar{Name: EnvRoleARN, Value: id.RoleARN},
			EnvVar{Name: EnvWebIdentityTokenFile, Value: tokenPath(p.mountPath, p.tokenFile, windows)},
		)
		if sessionNameFromPod(pod, id, opts, res) {
			p.addEnv(EnvVar{Name: EnvRoleSessionName, ValueFrom: podNameEnv})
		}
	}
	regional := opts.RegionalSTS
	if id.RegionalSTS != nil {
		regional = *id.RegionalSTS
	}
	if regional {
		p.addEnv(EnvVar{Name: EnvSTSRegionalEndpoints, Value: "regional"})
	}
	if opts.Region != "" {
		p.addEnv(
			EnvVar{Name: EnvDefaultRegion, Value: opts.Region},
			EnvVar{Name: EnvRegion, Value: opts.Region},
		)
	}
	p.cleanMountPath = path.Clean(p.mountPath)
	return p
}

// tokenExpiration picks the pod annotation, then the ServiceAccount's, then
// the webhook default, and keeps it within what the API server accepts.
func tokenExpiration(pod *Pod, id Identity, opts Options, res *Result) int64 {
	seconds := opts.TokenExpiration
	if id.TokenExpiration != 0 {
		seconds = id.TokenExpiration
	}
	if raw, ok := pod.Metadata.Annotations.get(opts.AnnotationPrefix, annotationTokenExpiration); ok {
		v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"annotation %s/%s=%q is not a whole number of seconds; using %d",
				opts.AnnotationPrefix, annotationTokenExpiration, raw, ClampExpiration(seconds)))
		} else {
			seconds = v
		}
	}
	return ClampExpiration(seconds)
}

// ParseSessionName reads a session-name annotation: "pod" (true) or "false".
func ParseSessionName(value string) (fromPod, ok bool) {
	switch v := strings.TrimSpace(value); {
	case strings.EqualFold(v, SessionNamePod):
		return true, true
	case strings.EqualFold(v, SessionNameOff):
		return false, true
	}
	return false, false
}

// sessionNameFromPod picks the pod annotation, then the ServiceAccount's,
// then the webhook default, and says no, with a warning, when the pod's name
// is not a session name STS accepts: STS would refuse every exchange, and a
// value from the downward API cannot be shortened.
func sessionNameFromPod(pod *Pod, id Identity, opts Options, res *Result) bool {
	on := opts.SessionNameFromPod
	if id.SessionNameFromPod != nil {
		on = *id.SessionNameFromPod
	}
	if raw, found := pod.Metadata.Annotations.get(opts.AnnotationPrefix, annotationSessionName); found {
		if v, ok := ParseSessionName(raw); ok {
			on = v
		} else {
			using := SessionNameOff
			if on {
				using = SessionNamePod
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"annotation %s/%s=%q is neither %q nor %q; using %q",
				opts.AnnotationPrefix, annotationSessionName, raw, SessionNamePod, SessionNameOff, using))
		}
	}
	if !on {
		return false
	}
	if n := podNameLength(pod.Metadata); n < minSessionName || n > maxSessionName {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"pod name length %d is outside the %d to %d characters STS accepts in a session name: %s not set, so the SDK's default session name is used",
			n, minSessionName, maxSessionName, EnvRoleSessionName))
		return false
	}
	return true
}

// podNameLength is the length the pod's name has once the pod is created.
// A pod created with generateName (every pod of a Deployment, ReplicaSet or
// Job) reaches admission webhooks unnamed: the API server generates the name
// after mutating admission, in its storage layer.
func podNameLength(m ObjectMeta) int {
	if m.Name != "" || m.GenerateName == "" {
		return len(m.Name)
	}
	return min(len(m.GenerateName), maxGenerateName) + generatedSuffix
}

// ClampExpiration keeps a token lifetime between MinTokenExpiration and
// MaxTokenExpiration.
func ClampExpiration(seconds int64) int64 {
	return min(max(seconds, MinTokenExpiration), MaxTokenExpiration)
}

// containerOps writes the ops that give container index of field (the
// pod spec's containers or initContainers) the token and env, or returns a
// warning, and writes nothing, when its mount path is taken by another
// volume.
func containerOps(w *patch, field string, index int, c *Container, p *plan) string {
	mounted := false
	for _, m := range c.VolumeMounts {
		if !sameMountPath(m.MountPath, p.cleanMountPath) {
			continue
		}
		if m.Name != p.volume {
			return fmt.Sprintf(
				"pod identity not injected into container %q: its mount path %s is already used by volume %q",
				c.Name, p.mountPath, m.Name)
		}
		mounted = true
	}
	if !mounted {
		w.addElement(field, index, "/volumeMounts", len(c.VolumeMounts) > 0, func(dst []byte) []byte {
			return appendMount(dst, p.mount())
		})
	}

	// A container without env gets one array of every variable; one with
	// env gets an append per missing variable.
	first := true
	for _, g := range p.envGroups() {
		group := g.vars[:g.n]
		if hasAnyEnv(c, group) {
			continue
		}
		for _, e := range group {
			switch {
			case c.Env.Len > 0:
				w.add(field, index, "/env", true)
			case first:
				w.add(field, index, "/env", false)
				w.buf = append(w.buf, '[')
			default:
				w.buf = append(w.buf, ',')
			}
			first = false
			w.buf = appendEnv(w.buf, e)
			if c.Env.Len > 0 {
				w.end()
			}
		}
	}
	if c.Env.Len == 0 && !first {
		w.buf = append(w.buf, ']')
		w.end()
	}
	return ""
}

// sameMountPath reports whether mount path m names the cleaned path clean.
// path.Clean never lengthens a path, except "" into ".", so only a longer m
// needs cleaning: this runs for every mount of every container.
func sameMountPath(m, clean string) bool {
	if len(m) <= len(clean) && m != "" {
		return m == clean
	}
	return path.Clean(m) == clean
}

func hasAnyEnv(c *Container, group []EnvVar) bool {
	for _, name := range c.Env.Injected {
		for _, g := range group {
			if name == g.Name {
				return true
			}
		}
	}
	return false
}

func tokenVolume(p *plan) Volume {
	expiration := p.expiration
	return Volume{
		Name: p.volume,
		Projected: &Projected{Sources: []ProjectedSource{{
			ServiceAccountToken: &TokenProjection{
				Audience:          p.audience,
				ExpirationSeconds: &expiration,
				Path:              p.tokenFile,
			},
		}}},
	}
}

// isTokenVolume reports whether v is a token volume this webhook added.
func isTokenVolume(v Volume, tokenFile string) bool {
	if v.Projected == nil || len(v.Projected.Sources) != 1 {
		return false
	}
	t := v.Projected.Sources[0].ServiceAccountToken
	return t != nil && t.Path == tokenFile
}

// tokenPath is where containers find the token; Windows containers see the
// mount under C:\ with backslashes.
func tokenPath(mountPath, file string, windows bool) string {
	p := strings.TrimSuffix(mountPath, "/") + "/" + file
	if windows {
		return `C:` + strings.ReplaceAll(p, "/", `\`)
	}
	return p
}

func skippedContainers(annotation string) map[string]bool {
	if annotation == "" {
		return nil
	}
	skip := map[string]bool{}
	for _, name := range strings.Split(annotation, ",") {
		if name = strings.TrimSpace(name); name != "" {
			skip[name] = true
		}
	}
	return skip
}
