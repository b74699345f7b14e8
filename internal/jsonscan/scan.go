// Package jsonscan reads selected values out of a JSON document in one
// forward pass, skipping everything else without allocating.
//
// It exists for the webhook's hot path: an AdmissionReview is several
// kilobytes of which the mutation reads a few dozen bytes, and a general
// decoder spends most of its time validating and materialising the rest.
// The scanner checks the structure of what it reads (brackets, quotes,
// separators) and that skipped brackets match, but not the separators
// inside skipped values nor the grammar of numbers and literals: callers
// feed it documents the API server produced, and fall back to a full
// decoder, which explains what is wrong, whenever it reports an error. It
// also reports a skipped value nested more than 64 brackets deep (counting
// its own), so the full decoder reads those too.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrSyntax is returned for input that is not well-formed JSON.
var ErrSyntax = errors.New("jsonscan: invalid JSON")

// Scanner walks one JSON document.
type Scanner struct {
	data []byte
	pos  int
	err  error
	// first is set between an opening bracket and the first element, when
	// no separator is due.
	first bool
	// name is the current member's name without quotes or escapes. It
	// aliases data unless the name has escapes.
	name []byte
}

// New returns a scanner at the start of data.
func New(data []byte) *Scanner { return &Scanner{data: data} }

// Err returns the first error met, if any.
func (s *Scanner) Err() error { return s.err }

// End checks that only whitespace is left.
func (s *Scanner) End() error {
	s.ws()
	if s.err == nil && s.pos != len(s.data) {
		s.fail("trailing data")
	}
	return s.err
}

func (s *Scanner) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, s.pos)
	}
	s.pos = len(s.data)
}

func (s *Scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *Scanner) peek() byte {
	// The API server writes compact JSON: the next byte is usually it.
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return s.data[s.pos]
	}
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *Scanner) expect(c byte) bool {
	if s.peek() != c {
		s.fail(fmt.Sprintf("want %q", c))
		return false
	}
	s.pos++
	return true
}

// IsNull consumes a null and reports whether there was one.
func (s *Scanner) IsNull() bool {
	if s.peek() == 'n' && bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		s.pos += 4
		return true
	}
	return false
}

// Object starts reading the object at the scanner; it returns false for
// null. Read its members with Next:
//
//	if s.Object() {
//		for s.Next() {
//			switch { case s.NameIs("a"): ...; default: s.Skip() }
//		}
//	}
func (s *Scanner) Object() bool {
	if s.IsNull() {
		return false
	}
	s.first = true
	return s.expect('{')
}

// Next moves to the next member of the object being read and reports
// whether there is one; the member's value must then be read or skipped.
func (s *Scanner) Next() bool {
	if !s.more('}') {
		return false
	}
	s.name = s.text()
	return s.expect(':')
}

// Name is the name of the current member, unquoted. It is valid until the
// next call to Next and must not be modified.
func (s *Scanner) Name() []byte { return s.name }

// NameIs reports whether the current member is named want. Names are
// unquoted once, in Next, so a switch over several candidates compares
// bytes only.
func (s *Scanner) NameIs(want string) bool { return string(s.name) == want }

// NameHasSuffix reports whether the current member's name ends in suffix.
func (s *Scanner) NameHasSuffix(suffix string) bool {
	return len(s.name) >= len(suffix) && string(s.name[len(s.name)-len(suffix):]) == suffix
}

// Array starts reading the array at the scanner; it returns false for null.
// Read its elements while More reports one.
func (s *Scanner) Array() bool {
	if s.IsNull() {
		return false
	}
	s.first = true
	return s.expect('[')
}

// More reports whether the array being read has another element, which
// must then be read or skipped.
func (s *Scanner) More() bool { return s.more(']') }

// more consumes the separator before the next member or element, or the
// closing bracket.
func (s *Scanner) more(closing byte) bool {
	if s.err != nil {
		return false
	}
	c := s.peek()
	switch {
	case c == closing:
		s.pos++
		s.first = false
		return false
	case s.first:
		s.first = false
		return true
	case c == ',':
		s.pos++
		return true
	}
	s.fail("want , or " + string(closing))
	return false
}

// String reads a string value; null reads as "".
func (s *Scanner) String() string {
	if s.IsNull() {
		return ""
	}
	return string(s.text())
}

// StringOf reads a string value like String, but returns the first of
// known that it equals without allocating: for values that are nearly
// always one of a few.
func (s *Scanner) StringOf(known ...string) string {
	if s.IsNull() {
		return ""
	}
	t := s.text()
	for _, k := range known {
		if string(t) == k {
			return k
		}
	}
	return string(t)
}

// Text reads a string value and returns it unquoted, without copying unless
// it has escapes: the bytes may alias the document and must not be
// modified. null reads as nil.
func (s *Scanner) Text() []byte {
	if s.IsNull() {
		return nil
	}
	return s.text()
}

// text reads a string and returns it unquoted, aliasing data when it has no
// escapes.
func (s *Scanner) text() []byte {
	inner, escaped := s.str()
	if !escaped || s.err != nil {
		return inner
	}
	// The string with its quotes ends where the scanner now is.
	out, err := jsontext.AppendUnquote(nil, s.data[s.pos-len(inner)-2:s.pos])
	if err != nil {
		s.fail("bad string escape")
		return nil
	}
	return out
}

// AtString reports whether the next value is a string.
func (s *Scanner) AtString() bool { return s.peek() == '"' }

// Bool reads true or false; null reads as false.
func (s *Scanner) Bool() bool {
	switch {
	case s.IsNull():
		return false
	case bytes.HasPrefix(s.data[s.pos:], []byte("true")):
		s.pos += 4
		return true
	case bytes.HasPrefix(s.data[s.pos:], []byte("false")):
		s.pos += 5
		return false
	}
	s.fail("want a boolean")
	return false
}

// Skip passes over the next value of any kind.
func (s *Scanner) Skip() {
	switch c := s.peek(); c {
	case '"':
		s.str()
	case '{', '[':
		s.skipComposite()
	case 0:
		s.fail("unexpected end")
	default:
		// A number or literal: runs to the next delimiter.
		start := s.pos
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.pos == start {
					s.fail("empty value")
				}
				return
			}
			s.pos++
		}
	}
}

// maxSkipDepth is how deeply skipped values may nest: the open brackets
// are kept one bit each in a word. Deeper documents are reported as errors,
// so the caller's reference decoder reads them instead.
const maxSkipDepth = 64

// skipComposite passes over an object or array, matching brackets outside
// strings. It works on locals rather than the scanner's fields: it runs
// over most of every pod.
func (s *Scanner) skipComposite() {
	data := s.data
	var objects uint64 // bit n: the bracket open at depth n is '{'
	depth := 0
	for i := s.pos; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			end, _ := stringEnd(data, i+1)
			i = end - 1
		case '{', '[':
			if depth == maxSkipDepth {
				s.pos = i
				s.fail("nested too deeply")
				return
			}
			objects = objects<<1 | uint64(c>>5&1) // '{' has bit 5 set, '[' not
			depth++
		case '}', ']':
			if depth == 0 || objects&1 != uint64(c>>5&1) {
				s.pos = i
				s.fail("mismatched " + string(c))
				return
			}
			objects >>= 1
			depth--
			if depth == 0 {
				s.pos = i + 1
				return
			}
		}
	}
	s.pos = len(data)
	s.fail("unterminated object or array")
}

// stringEnd returns the index after the quote that closes the string whose
// contents start at i, or len(data)+1 when it is unterminated, and whether
// the contents hold escapes.
func stringEnd(data []byte, i int) (end int, escaped bool) {
	for {
		i = quoteOrBackslash(data, i)
		if i >= len(data) {
			return len(data) + 1, escaped
		}
		if data[i] == '"' {
			return i + 1, escaped
		}
		escaped = true
		i += 2 // past the backslash and the byte it escapes
	}
}

// str reads the string at the scanner and returns what is between its
// quotes, and whether that holds escapes.
func (s *Scanner) str() (inner []byte, escaped bool) {
	if s.peek() != '"' {
		s.fail("want a string")
		return nil, false
	}
	start := s.pos + 1
	end, escaped := stringEnd(s.data, start)
	if end > len(s.data) {
		s.fail("unterminated string")
		return nil, false
	}
	s.pos = end
	return s.data[start : end-1], escaped
}

// Byte masks for finding bytes eight at a time.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// quoteOrBackslash returns the index of the first '"' or '\\' in data at or
// after i, or len(data). Most strings in a pod are a few dozen bytes, where
// comparing eight bytes per step beats a call to bytes.IndexByte.
func quoteOrBackslash(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		if m := bytesEqual(w, '"') | bytesEqual(w, '\\'); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(data); i++ {
		if c := data[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return len(data)
}

// bytesEqual sets the high bit of the bytes of w that equal c. Only its
// lowest set bit is exact (a borrow can mark a byte above a match), which
// is the one quoteOrBackslash reads.
func bytesEqual(w uint64, c byte) uint64 {
	x := w ^ (lowBits * uint64(c))
	return (x - lowBits) &^ x & highBits
}

// Int64 reads an integer; null reads as 0.
func (s *Scanner) Int64() int64 {
	if s.IsNull() {
		return 0
	}
	s.ws()
	start := s.pos
	s.Skip()
	if s.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 64)
	if err != nil {
		s.fail("want an integer")
	}
	return n
}
