package web

import (
	"cmp"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// Text that is not UTF-8 or holds a NUL byte is refused at the door, the
// same on every engine: PostgreSQL cannot store either, SQLite would store
// what no one can read back as sent, and an audit event quoting it would
// not hash as it was written.

// badText says what is wrong with s as text, or "".
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL byte"
	}
	return ""
}

// guidPathValues are the path values that are Azure IDs.
var guidPathValues = map[string]string{"tenantId": "tenant", "subscriptionId": "subscription"}

// guidQueryParams are the query parameters that name an Azure ID.
var guidQueryParams = map[string]string{"tenant": "tenant", "subscription": "subscription"}

// checkInput refuses a request whose path, query or form is not text, or
// whose Azure IDs are not GUIDs, before any handler sees it. EINVALID.
func (s *Server) checkInput(w http.ResponseWriter, r *http.Request, rt *route) error {
	if why := badText(r.URL.Path); why != "" {
		return steward.Errorf(steward.EINVALID, "The request's path %s.", why)
	}
	for name, what := range guidPathValues {
		if strings.Contains(rt.path, "{"+name+"}") && !steward.IsGUID(r.PathValue(name)) {
			return steward.Errorf(steward.EINVALID, "%q is not a %s ID (a GUID).", r.PathValue(name), what)
		}
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return steward.Errorf(steward.EINVALID, "The query string is malformed (%s).", queryProblem(err))
	}
	if err := checkValues("query parameter", query); err != nil {
		return err
	}
	for name, what := range guidQueryParams {
		for _, v := range query[name] {
			if v != "" && !steward.IsGUID(strings.TrimSpace(v)) {
				return steward.Errorf(steward.EINVALID, "Query parameter %q must be a %s ID (a GUID), not %q.", name, what, v)
			}
		}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			if _, tooBig := err.(*http.MaxBytesError); tooBig {
				return steward.Errorf(steward.ETOOLARGE, "The form is larger than %d bytes.", s.cfg.MaxBodyBytes)
			}
			return steward.Errorf(steward.EINVALID, "The form is malformed (%s).", queryProblem(err))
		}
		if err := checkValues("form field", r.PostForm); err != nil {
			return err
		}
	}
	return nil
}

// checkValues refuses names or values that are not text.
func checkValues(what string, vs url.Values) error {
	for name, values := range vs {
		if why := badText(name); why != "" {
			return steward.Errorf(steward.EINVALID, "A %s name %s.", what, why)
		}
		for _, v := range values {
			if why := badText(v); why != "" {
				return steward.Errorf(steward.EINVALID, "The %s %q %s.", what, name, why)
			}
		}
	}
	return nil
}

// queryProblem names a parse error without quoting the bytes.
func queryProblem(err error) string {
	if strings.Contains(err.Error(), "invalid URL escape") {
		return "a % is not followed by two hex digits"
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "it holds a semicolon"
	}
	return "it could not be parsed"
}

// checkDecoded refuses a decoded JSON body with a NUL in any string (JSON
// can spell one as \u0000); the raw bytes were checked for UTF-8 already.
func checkDecoded(v any) error {
	if path := nulAt(reflect.ValueOf(v), ""); path != "" {
		return steward.Errorf(steward.EINVALID, "The request body holds a NUL character (\\u0000) in %s.", path)
	}
	return nil
}

// nulAt returns where in v a string holds a NUL, or "".
func nulAt(v reflect.Value, at string) string {
	switch v.Kind() {
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return cmp.Or(at, "the body")
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulAt(v.Elem(), at)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if p := nulAt(v.Field(i), join(at, cmp.Or(name, f.Name))); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // raw bytes: not text
		}
		for i := range v.Len() {
			if p := nulAt(v.Index(i), at+"[]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p := nulAt(it.Key(), join(at, "(a key)")); p != "" {
				return p
			}
			if p := nulAt(it.Value(), join(at, it.Key().String())); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}
