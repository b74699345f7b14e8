package mutate

import (
	"github.com/irsa-dev/irsa/internal/jsonscan"
)

// ScanPod reads the pod at s into p, the fast equivalent of DecodePod: the
// same fields, the same selection of labels and annotations, nothing else
// materialised. The memory of p's lists is reused for the new pod's (see
// Recycle); nothing else of what p held survives. Errors are left in s.
func ScanPod(s *jsonscan.Scanner, p *Pod) {
	old := p.Spec
	*p = Pod{}
	var r recent
	if s.Object() {
		for s.Next() {
			switch {
			case s.NameIs("metadata"):
				scanMeta(s, &p.Metadata)
			case s.NameIs("spec"):
				scanSpec(s, &p.Spec, &old, &r)
			default:
				s.Skip()
			}
		}
	}
}

// Recycle empties p but keeps the memory of its lists (containers, their
// mounts, volumes) for the next ScanPod into it: a webhook scans every pod
// into the same Pod. Nothing the lists held stays reachable.
func (p *Pod) Recycle() {
	*p = Pod{Spec: PodSpec{
		InitContainers: recycleContainers(p.Spec.InitContainers),
		Containers:     recycleContainers(p.Spec.Containers),
		Volumes:        clearList(p.Spec.Volumes),
	}}
}

// recycleContainers empties list, keeping each slot's mount list memory.
func recycleContainers(list []Container) []Container {
	list = list[:cap(list)]
	for i := range list {
		list[i] = Container{VolumeMounts: clearList(list[i].VolumeMounts)}
	}
	return list[:0]
}

// emptyList returns reuse emptied, or a new empty list when there is no
// memory to reuse: a list read from [] is never nil.
func emptyList[T any](reuse []T) []T {
	if reuse == nil {
		return make([]T, 0, 4)
	}
	return reuse[:0]
}

// clearList empties list and zeroes its memory, keeping it for reuse.
func clearList[T any](list []T) []T {
	clear(list[:cap(list)])
	return list[:0]
}

func scanMeta(s *jsonscan.Scanner, m *ObjectMeta) {
	if !s.Object() {
		return
	}
	for s.Next() {
		switch {
		case s.NameIs("name"):
			m.Name = s.String()
		case s.NameIs("generateName"):
			m.GenerateName = s.String()
		case s.NameIs("namespace"):
			m.Namespace = s.String()
		case s.NameIs("labels"):
			m.Labels = scanSelected(s, labelSuffixes)
		case s.NameIs("annotations"):
			m.Annotations = scanSelected(s, annotationSuffixes)
		default:
			s.Skip()
		}
	}
}

// scanSpec reads a pod spec into spec, reusing the lists of old.
func scanSpec(s *jsonscan.Scanner, spec, old *PodSpec, r *recent) {
	if !s.Object() {
		return
	}
	for s.Next() {
		switch {
		case s.NameIs("serviceAccountName"):
			spec.ServiceAccountName = s.String()
		case s.NameIs("nodeSelector"):
			spec.NodeSelector = scanNodeSelector(s)
		case s.NameIs("os"):
			spec.OS = scanOS(s)
		case s.NameIs("initContainers"):
			spec.InitContainers = scanContainers(s, r, old.InitContainers)
		case s.NameIs("containers"):
			spec.Containers = scanContainers(s, r, old.Containers)
		case s.NameIs("volumes"):
			spec.Volumes = scanVolumes(s, r, old.Volumes)
		default:
			s.Skip()
		}
	}
}

func scanOS(s *jsonscan.Scanner) *PodOS {
	if !s.Object() {
		return nil
	}
	os := &PodOS{}
	for s.Next() {
		if s.NameIs("name") {
			os.Name = s.String()
		} else {
			s.Skip()
		}
	}
	return os
}

// Arrays read as nil for null and as a non-nil empty slice for [], as the
// reference decoder reads them. The lists are built in the memory of the
// previous pod's (reuse), when it had them.

func scanContainers(s *jsonscan.Scanner, r *recent, reuse []Container) []Container {
	if !s.Array() {
		return nil
	}
	list := emptyList(reuse)
	for s.More() {
		var mounts []VolumeMount
		if n := len(list); n < cap(list) {
			mounts = list[:n+1][n].VolumeMounts[:0]
		}
		var c Container
		if s.Object() {
			for s.Next() {
				switch {
				case s.NameIs("name"):
					c.Name = s.String()
				case s.NameIs("env"):
					c.Env = scanEnv(s)
				case s.NameIs("volumeMounts"):
					c.VolumeMounts = scanMounts(s, r, mounts)
				default:
					s.Skip()
				}
			}
		}
		list = append(list, c)
	}
	return list
}

func scanEnv(s *jsonscan.Scanner) EnvNames {
	var env EnvNames
	if !s.Array() {
		return env
	}
	for s.More() {
		env.Len++
		if !s.Object() {
			continue
		}
		var name string
		var known bool
		for s.Next() {
			if s.NameIs("name") {
				name, known = "", false
				if !s.AtString() {
					s.Skip() // not a name the API server would accept
					continue
				}
				name, known = injectedName(s.Text())
			} else {
				s.Skip()
			}
		}
		if known {
			env.Injected = append(env.Injected, name)
		}
	}
	return env
}

func scanMounts(s *jsonscan.Scanner, r *recent, reuse []VolumeMount) []VolumeMount {
	if !s.Array() {
		return nil
	}
	list := emptyList(reuse)
	for s.More() {
		var m VolumeMount
		if s.Object() {
			for s.Next() {
				switch {
				case s.NameIs("name"):
					m.Name = r.read(s)
				case s.NameIs("mountPath"):
					m.MountPath = r.read(s)
				case s.NameIs("readOnly"):
					m.ReadOnly = s.Bool()
				default:
					s.Skip()
				}
			}
		}
		list = append(list, m)
	}
	return list
}

func scanVolumes(s *jsonscan.Scanner, r *recent, reuse []Volume) []Volume {
	if !s.Array() {
		return nil
	}
	list := emptyList(reuse)
	for s.More() {
		var v Volume
		if s.Object() {
			for s.Next() {
				switch {
				case s.NameIs("name"):
					v.Name = r.read(s)
				case s.NameIs("projected"):
					v.Projected = scanProjected(s, r)
				default:
					s.Skip()
				}
			}
		}
		list = append(list, v)
	}
	return list
}

func scanProjected(s *jsonscan.Scanner, r *recent) *Projected {
	if !s.Object() {
		return nil
	}
	p := &Projected{}
	for s.Next() {
		if !s.NameIs("sources") {
			s.Skip()
			continue
		}
		p.Sources = nil
		if !s.Array() {
			continue
		}
		// A pod's projected volumes have up to three sources (the API
		// access volume: token, CA and namespace).
		p.Sources = make([]ProjectedSource, 0, 3)
		for s.More() {
			var src ProjectedSource
			if s.Object() {
				for s.Next() {
					if s.NameIs("serviceAccountToken") {
						src.ServiceAccountToken = scanTokenProjection(s, r)
					} else {
						s.Skip()
					}
				}
			}
			p.Sources = append(p.Sources, src)
		}
	}
	return p
}

func scanTokenProjection(s *jsonscan.Scanner, r *recent) *TokenProjection {
	if !s.Object() {
		return nil
	}
	t := &TokenProjection{}
	for s.Next() {
		switch {
		case s.NameIs("audience"):
			t.Audience = r.read(s)
		case s.NameIs("path"):
			t.Path = r.read(s)
		case s.NameIs("expirationSeconds"):
			t.ExpirationSeconds = nil
			if !s.IsNull() {
				n := s.Int64()
				t.ExpirationSeconds = &n
			}
		default:
			s.Skip()
		}
	}
	return t
}

// scanNodeSelector reads the operating system labels of a node selector.
func scanNodeSelector(s *jsonscan.Scanner) NodeSelector {
	var n NodeSelector
	if !s.Object() {
		return n
	}
	for s.Next() {
		switch {
		case s.NameIs(labelOS):
			n.OS = s.StringOf(osLinux, osWindows)
		case s.NameIs(labelBetaOS):
			n.BetaOS = s.StringOf(osLinux, osWindows)
		case s.NameHasSuffix(labelOS):
			s.Text() // read for its errors only: it must be a string (or null)
		default:
			s.Skip()
		}
	}
	return n
}

// scanSelected reads an object of strings, keeping members whose name ends
// in one of suffixes.
func scanSelected(s *jsonscan.Scanner, suffixes []string) map[string]string {
	if !s.Object() {
		return nil
	}
	var m map[string]string
	for s.Next() {
		if !nameHasSuffix(s, suffixes) {
			s.Skip()
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[string(s.Name())] = s.String()
	}
	return m
}

// recent remembers the strings a pod's scan copied, so a value the pod
// repeats (a volume's name in every container that mounts it, a common
// mount path) is copied once.
type recent struct {
	strs [16]string
	n    int
}

// read reads a string value like Scanner.String, reusing a remembered
// copy when there is one.
func (r *recent) read(s *jsonscan.Scanner) string {
	t := s.Text()
	for _, v := range r.strs[:r.n] {
		if string(t) == v {
			return v
		}
	}
	v := string(t)
	if r.n < len(r.strs) {
		r.strs[r.n] = v
		r.n++
	}
	return v
}
