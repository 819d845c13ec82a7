package store

import "strings"

// decodeTags decodes a resource's stored tags, a JSON object of strings as
// jsonText wrote it. Listings decode one per row, and encoding/json took a
// sixth of a listing's time; most stored tags have no escapes, so those
// are cut out of the text directly, and anything else is left to
// encoding/json.
func decodeTags(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	if tags, ok := plainTags(s); ok {
		return tags, nil
	}
	var tags map[string]string
	if err := fromJSON(s, &tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// plainTags reads {"k":"v",…} whose strings hold no backslash; ok is false
// for anything else.
func plainTags(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' || strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	tags := make(map[string]string, strings.Count(s, `":"`))
	rest := s[1 : len(s)-1]
	for {
		k, r, ok := plainString(rest)
		if !ok || len(r) == 0 || r[0] != ':' {
			return nil, false
		}
		v, r, ok := plainString(r[1:])
		if !ok {
			return nil, false
		}
		tags[k] = v
		if len(r) == 0 {
			return tags, true
		}
		if r[0] != ',' {
			return nil, false
		}
		rest = r[1:]
	}
}

// plainString reads a leading "…" without escapes.
func plainString(s string) (str, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", "", false
	}
	return s[1 : 1+end], s[2+end:], true
}
