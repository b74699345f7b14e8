package jsonscan

import (
	"errors"
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
				out[Unquote(s.Name())] = s.String()
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
			case NameIs(s.Name(), "i"):
				i = s.Int64()
			case NameIs(s.Name(), "neg"):
				neg = s.Int64()
			case NameIs(s.Name(), "b"):
				b = s.Bool()
			case NameIs(s.Name(), "bad"):
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
	if !NameIs([]byte(`"name"`), "name") || NameIs([]byte(`"names"`), "name") || !NameIs([]byte(`"n\u0061me"`), "name") {
		t.Error("NameIs")
	}
	if !NameHasSuffix([]byte(`"eks.amazonaws.com/skip-containers"`), "/skip-containers") ||
		NameHasSuffix([]byte(`"skip-containers"`), "/skip-containers") ||
		!NameHasSuffix([]byte(`"a\/skip-containers"`), "/skip-containers") {
		t.Error("NameHasSuffix")
	}
}
