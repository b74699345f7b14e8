package mutate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/irsa-dev/irsa/internal/jsonscan"
	"github.com/irsa-dev/irsa/internal/mutate"
)

// decodePod reads an admitted pod as the webhook's handler does, with the
// scanner; FuzzScanPod holds the scanner to the reference decoder.
func decodePod(raw []byte) (mutate.Pod, error) {
	s := jsonscan.New(raw)
	var pod mutate.Pod
	mutate.ScanPod(s, &pod)
	if err := s.End(); err != nil {
		return mutate.Pod{}, err
	}
	return pod, nil
}

// op is one operation of a patch, as the tests read it.
type op struct {
	Op    string         `json:"op"`
	Path  string         `json:"path"`
	Value jsontext.Value `json:"value"`
}

// decodeOps reads a patch Inject wrote, and checks it is written as the
// JSON encoder writes it.
func decodeOps(patch []byte) ([]op, error) {
	if len(patch) == 0 {
		return nil, nil
	}
	var ops []op
	if err := jsonv2.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("patch %s: %w", patch, err)
	}
	if reencoded, err := jsonv2.Marshal(ops); err != nil || string(reencoded) != string(patch) {
		return nil, fmt.Errorf("Inject wrote %s, the JSON encoder %s (%v)", patch, reencoded, err)
	}
	return ops, nil
}

// applyPatch applies a patch to the raw pod, as the API server does with
// the webhook's response.
func applyPatch(raw, patch []byte) ([]byte, error) {
	if len(patch) == 0 {
		return raw, nil
	}
	decoded, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, fmt.Errorf("decode patch %s: %w", patch, err)
	}
	out, err := decoded.Apply(raw)
	if err != nil {
		return nil, fmt.Errorf("apply patch %s: %w", patch, err)
	}
	return out, nil
}

// generic decodes JSON into maps, slices and scalars.
func generic(raw []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkOps reports the first op that is not a targeted append to doc (the
// pod before the patch): every op must be an "add" whose path ends in "/-"
// on an existing array, or names a member that is absent (null and an empty
// array count as absent: replacing them appends to nothing) of an existing
// object. No op may replace a container, a volume or anything else.
func checkOps(doc any, patch []byte) error {
	ops, err := decodeOps(patch)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.Op != "add" {
			return fmt.Errorf("op %q at %s: only add is allowed", op.Op, op.Path)
		}
		tokens, err := pointerTokens(op.Path)
		if err != nil {
			return err
		}
		if len(tokens) == 0 {
			return fmt.Errorf("op at %q replaces the whole pod", op.Path)
		}
		parent, err := resolve(doc, tokens[:len(tokens)-1])
		if err != nil {
			return fmt.Errorf("op at %s: %w", op.Path, err)
		}
		last := tokens[len(tokens)-1]
		switch p := parent.(type) {
		case []any:
			if last != "-" {
				return fmt.Errorf("op at %s inserts into or replaces an array element; only /- appends are allowed", op.Path)
			}
		case map[string]any:
			if cur, ok := p[last]; ok && !emptyOrNull(cur) {
				return fmt.Errorf("op at %s replaces an existing %T value", op.Path, cur)
			}
		default:
			return fmt.Errorf("op at %s: parent is a %T", op.Path, parent)
		}
	}
	return nil
}

func emptyOrNull(v any) bool {
	if v == nil {
		return true
	}
	a, ok := v.([]any)
	return ok && len(a) == 0
}

func pointerTokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q is not a JSON pointer", path)
	}
	tokens := strings.Split(path[1:], "/")
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

func resolve(doc any, tokens []string) (any, error) {
	cur := doc
	for i, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("/%s is absent", strings.Join(tokens[:i+1], "/"))
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("/%s is not an element", strings.Join(tokens[:i+1], "/"))
			}
			cur = c[n]
		default:
			return nil, fmt.Errorf("/%s is inside a %T", strings.Join(tokens[:i+1], "/"), cur)
		}
	}
	return cur, nil
}

// checkOnlyAppended reports where after lost or changed anything of before:
// every member of every object is kept, every array keeps its elements in
// order and may only grow at its end, scalars are equal, and only a null
// may become something else.
func checkOnlyAppended(before, after any, at string) error {
	switch b := before.(type) {
	case nil:
		return nil
	case map[string]any:
		a, ok := after.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: object became %T", at, after)
		}
		for k, bv := range b {
			av, ok := a[k]
			if !ok {
				return fmt.Errorf("%s/%s: removed", at, k)
			}
			if err := checkOnlyAppended(bv, av, at+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		a, ok := after.([]any)
		if !ok {
			return fmt.Errorf("%s: array became %T", at, after)
		}
		if len(a) < len(b) {
			return fmt.Errorf("%s: array shrank from %d to %d", at, len(b), len(a))
		}
		for i := range b {
			if err := checkOnlyAppended(b[i], a[i], at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	default:
		if !reflect.DeepEqual(before, after) {
			return fmt.Errorf("%s: %v became %v", at, before, after)
		}
	}
	return nil
}
