package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// tagSet is an immutable, ordered set of tags. Names compare
// case-insensitively and keep the casing they were last written with;
// values are case-sensitive. Sets are shared between resources (the
// generator hands the same set to many), so a change always builds a new
// one. The JSON form is computed once.
type tagSet struct {
	keys []string
	vals []string
	json []byte // {"k":"v",…}
}

func newTagSet(keys, vals []string) *tagSet {
	if len(keys) == 0 {
		return nil
	}
	ts := &tagSet{keys: keys, vals: vals}
	b := make([]byte, 0, 16*len(keys))
	b = append(b, '{')
	for i, k := range keys {
		b = appendKey(b, k, i == 0)
		b = appendJSONString(b, vals[i])
	}
	ts.json = append(b, '}')
	return ts
}

func (t *tagSet) len() int {
	if t == nil {
		return 0
	}
	return len(t.keys)
}

// get returns the value of the tag named name (any casing).
func (t *tagSet) get(name string) (string, bool) {
	if t == nil {
		return "", false
	}
	for i, k := range t.keys {
		if strings.EqualFold(k, name) {
			return t.vals[i], true
		}
	}
	return "", false
}

// appendJSON appends the set as a JSON object ({} when empty).
func (t *tagSet) appendJSON(b []byte) []byte {
	if t == nil {
		return append(b, '{', '}')
	}
	return append(b, t.json...)
}

func (t *tagSet) asMap() map[string]string {
	m := map[string]string{}
	if t != nil {
		for i, k := range t.keys {
			m[k] = t.vals[i]
		}
	}
	return m
}

// tagList is tags as a request carried them: ordered, with any duplicate
// names (in any casing) collapsed to the last one, as ARM's case-insensitive
// dictionary does.
type tagList struct {
	keys, vals []string
}

func (l *tagList) set(k, v string) {
	for i, x := range l.keys {
		if strings.EqualFold(x, k) {
			l.keys[i], l.vals[i] = k, v
			return
		}
	}
	l.keys = append(l.keys, k)
	l.vals = append(l.vals, v)
}

// UnmarshalJSON reads a JSON object of string values, keeping order. null
// means no tags.
func (l *tagList) UnmarshalJSON(b []byte) error {
	*l = tagList{}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("tags must be a JSON object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			l.set(k, x)
		case nil:
			l.set(k, "")
		case float64, bool:
			// ARM coerces scalars to strings.
			l.set(k, fmt.Sprint(x))
		default:
			return fmt.Errorf("the value of tag %q must be a string", k)
		}
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// tagLimits are the limits that apply to one taggable entity.
type tagLimits struct {
	maxTags    int
	nameMax    int
	valueMax   int
	noTags     bool
	entityType string
}

var defaultTagLimits = tagLimits{maxTags: 50, nameMax: 512, valueMax: 256}

func limitsFor(t *resType) tagLimits {
	if t == nil {
		return defaultTagLimits
	}
	return tagLimits{maxTags: t.MaxTags, nameMax: t.TagNameMax, valueMax: 256, noTags: t.NoTags, entityType: t.Name}
}

// tagError is a tag rule broken, with the ARM error code to report.
type tagError struct {
	Code, Message string
}

func (e *tagError) Error() string { return e.Code + ": " + e.Message }

const invalidTagChars = `<>%&\?/`

// validate checks a final set of tags against Azure's limits (FACTS.md §1).
// Exact ARM error codes for these cases are not published; the codes here
// follow ARM's naming (InvalidTagNameCharacters is the one seen in the
// wild).
func (lim tagLimits) validate(keys, vals []string) *tagError {
	if lim.noTags && len(keys) > 0 {
		return &tagError{"ResourceTypeDoesNotSupportTags", fmt.Sprintf("The resource type '%s' does not support tags.", lim.entityType)}
	}
	var badChars []string
	for i, k := range keys {
		if strings.TrimSpace(k) == "" {
			return &tagError{"InvalidTagName", "The tag name cannot be null, empty or white space."}
		}
		if n := utf8.RuneCountInString(k); n > lim.nameMax {
			return &tagError{"InvalidTagNameLength", fmt.Sprintf("The tag name '%s' exceeds the maximum length of '%d' characters.", shorten(k), lim.nameMax)}
		}
		if strings.ContainsAny(k, invalidTagChars) || hasControl(k) {
			badChars = append(badChars, k)
		}
		if n := utf8.RuneCountInString(vals[i]); n > lim.valueMax {
			return &tagError{"InvalidTagValueLength", fmt.Sprintf("The tag value '%s' of tag '%s' exceeds the maximum length of '%d' characters.", shorten(vals[i]), shorten(k), lim.valueMax)}
		}
	}
	if len(badChars) > 0 {
		return &tagError{"InvalidTagNameCharacters", fmt.Sprintf("The tag names '%s' have reserved characters '<,>,%%,&,\\,?,/' or control characters.", strings.Join(badChars, ","))}
	}
	if len(keys) > lim.maxTags {
		return &tagError{"InvalidTagCount", fmt.Sprintf("The number of tags %d exceeds the maximum of %d tag name-value pairs.", len(keys), lim.maxTags)}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}

// Tag operations of PATCH …/tags/default.
const (
	tagOpReplace = "replace"
	tagOpMerge   = "merge"
	tagOpDelete  = "delete"
)

// applyTagOp computes the tags after an operation on the current set.
func applyTagOp(cur *tagSet, op string, in tagList) (keys, vals []string) {
	switch op {
	case tagOpReplace:
		return in.keys, in.vals
	case tagOpMerge:
		var out tagList
		if cur != nil {
			out.keys = append(out.keys, cur.keys...)
			out.vals = append(out.vals, cur.vals...)
		}
		for i, k := range in.keys {
			out.set(k, in.vals[i]) // the new casing wins, as Azure keeps what you provide
		}
		return out.keys, out.vals
	case tagOpDelete:
		if cur == nil {
			return nil, nil
		}
		for i, k := range cur.keys {
			drop := false
			for j, dk := range in.keys {
				// Only while the value matches: recorded, a Delete naming
				// another value answers 200 and deletes nothing.
				if strings.EqualFold(k, dk) && in.vals[j] == cur.vals[i] {
					drop = true
					break
				}
			}
			if !drop {
				keys = append(keys, k)
				vals = append(vals, cur.vals[i])
			}
		}
		return keys, vals
	}
	return nil, nil
}

// interner shares equal strings. Tag names and values repeat endlessly
// across an estate; interning keeps one copy of each.
type interner struct {
	m map[string]string
}

func (in *interner) s(x string) string {
	if in.m == nil {
		in.m = map[string]string{}
	}
	if y, ok := in.m[x]; ok {
		return y
	}
	in.m[x] = x
	return x
}
