package jsonscan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// collect reads doc as an object and returns its string members; other
// members are skipped.
func collect(doc string) (map[string]string, error) {
	s := New([]byte(doc))
	out := map[string]string{}
	if s.Object() {
		for s.Next() {
			if s.AtString() {
				out[string(s.Name())] = s.String()
			} else {
				s.Skip()
			}
		}
	}
	return out, s.End()
}

func TestScannerReadsAndSkips(t *testing.T) {
	cases := []struct {
		doc  string
		want map[string]string
	}{
		{`{}`, map[string]string{}},
		{`null`, map[string]string{}},
		{` { "a" : "x" , "b":"y" } `, map[string]string{"a": "x", "b": "y"}},
		{`{"quote":"a\"b","backslash":"c\\","both":"\\\"d"}`, map[string]string{"quote": `a"b`, "backslash": `c\`, "both": `\"d`}},
		{`{"unicode":"\u00e9\ud83d\ude00","n\u0061me":"escaped name"}`, map[string]string{"unicode": "é😀", "name": "escaped name"}},
		{"{\"a\":\"x\", \"n\\u0061me\":\"y\",\n\t\"q\\\"\" : \"z\"}", map[string]string{"a": "x", "name": "y", `q"`: "z"}},
		{`{"skip":{"nested":["]","}",{"deep":[1,2,{"x":"\"}"}]}]},"after":"ok"}`, map[string]string{"after": "ok"}},
		{`{"n":-1.5e+10,"t":true,"f":false,"z":null,"s":"v"}`, map[string]string{"s": "v"}},
	}
	for _, c := range cases {
		got, err := collect(c.doc)
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.doc, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", c.doc, k, got[k], v)
			}
		}
	}
}

func TestScannerRejectsBrokenStructure(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a":"x" "b":"y"}`, `{"a":"x",}`, `{"a":"unterminated}`,
		`{"a":{"b":[1,2}}}`, `{"a":{"b":[1,2}}`, `{"a":"x"} trailing`, `["not an object"]`, `{"a":}`,
	} {
		if _, err := collect(doc); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want ErrSyntax", doc, err)
		}
	}
}

func TestArrays(t *testing.T) {
	s := New([]byte(`[ "a", null, ["b"], {"c":"d"} ,"e"]`))
	var got []string
	if s.Array() {
		for s.More() {
			if s.AtString() {
				got = append(got, s.String())
			} else {
				s.Skip()
			}
		}
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "e" {
		t.Errorf("got %q", got)
	}
}

func TestNumbersAndBooleans(t *testing.T) {
	s := New([]byte(`{"i":600,"neg":-7,"b":true,"bad":1.5}`))
	var i, neg int64
	var b bool
	if s.Object() {
		for s.Next() {
			switch {
			case s.NameIs("i"):
				i = s.Int64()
			case s.NameIs("neg"):
				neg = s.Int64()
			case s.NameIs("b"):
				b = s.Bool()
			case s.NameIs("bad"):
				s.Int64()
			}
		}
	}
	if i != 600 || neg != -7 || !b {
		t.Errorf("i=%d neg=%d b=%v", i, neg, b)
	}
	if err := s.End(); !errors.Is(err, ErrSyntax) {
		t.Errorf("1.5 read as an integer: err = %v", err)
	}
}

func TestNameMatching(t *testing.T) {
	s := New([]byte(`{"name":1,"names":2,"n\u0061me":3,"eks.amazonaws.com/skip-containers":4,"skip-containers":5,"a\/skip-containers":6}`))
	var is, suffixed []int
	if s.Object() {
		for i := 1; s.Next(); i++ {
			if s.NameIs("name") {
				is = append(is, i)
			}
			if s.NameHasSuffix("/skip-containers") {
				suffixed = append(suffixed, i)
			}
			s.Skip()
		}
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(is, []int{1, 3}) {
		t.Errorf("NameIs(name) matched members %v, want 1 and 3", is)
	}
	if !slices.Equal(suffixed, []int{4, 6}) {
		t.Errorf("NameHasSuffix(/skip-containers) matched members %v, want 4 and 6", suffixed)
	}
}

func TestTextAliasesUnlessEscaped(t *testing.T) {
	doc := []byte(`["plain","esc\"aped",null,"bad\q"]`)
	s := New(doc)
	s.Array()
	s.More()
	if plain := s.Text(); string(plain) != "plain" || &plain[0] != &doc[2] {
		t.Errorf("plain text %q is a copy or wrong", plain)
	}
	s.More()
	if esc := s.Text(); string(esc) != `esc"aped` {
		t.Errorf("escaped text = %q", esc)
	}
	s.More()
	if null := s.Text(); null != nil {
		t.Errorf("null read as %q", null)
	}
	s.More()
	s.Text()
	if !errors.Is(s.Err(), ErrSyntax) {
		t.Errorf("bad escape: err = %v", s.Err())
	}
}

func TestStringOfReturnsKnownValuesWithoutAllocating(t *testing.T) {
	doc := []byte(`["CREATE","UPDATE","other",null]`)
	var got []string
	read := func() {
		got = got[:0]
		s := New(doc)
		s.Array()
		for s.More() {
			got = append(got, s.StringOf("CREATE", "UPDATE"))
		}
	}
	got = make([]string, 0, 4)
	read()
	if !slices.Equal(got, []string{"CREATE", "UPDATE", "other", ""}) {
		t.Errorf("read %q", got)
	}
	doc = []byte(`["CREATE","UPDATE",null]`)
	if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
		t.Errorf("%v allocations reading known values", allocs)
	}
}

// A skipped value nested deeper than the scanner tracks is an error, for
// the caller's reference decoder to read; one level less is skipped.
func TestSkipDepth(t *testing.T) {
	nested := func(depth int) string {
		return `{"skip":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"after":"ok"}`
	}
	if got, err := collect(nested(maxSkipDepth)); err != nil || got["after"] != "ok" {
		t.Errorf("depth %d: %v, %v", maxSkipDepth, got, err)
	}
	if _, err := collect(nested(maxSkipDepth + 1)); !errors.Is(err, ErrSyntax) {
		t.Errorf("depth %d: err = %v, want ErrSyntax", maxSkipDepth+1, err)
	}
	if _, err := collect(`{"skip":[{]}]}`); !errors.Is(err, ErrSyntax) {
		t.Errorf("mismatched brackets: err = %v", err)
	}
}
