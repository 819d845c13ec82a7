package lighthouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/stewardhq/steward"
)

// The three kinds of input the validator reads.
type docKind int

const (
	kindTemplate   docKind = iota + 1 // an ARM deployment template
	kindParameters                    // a deployment parameters file
	kindDefinition                    // a registration definition body {"properties": {…}}
)

// doc is one parsed input file.
type doc struct {
	name string
	kind docKind
	root map[string]any
	// props is the registration definition's properties (kindDefinition).
	props map[string]any
	// values are a parameters file's values, by lower-case name; a Key
	// Vault reference is kept as unresolved.
	values map[string]any
	// names are the parameters file's names as written, in file order.
	names []string
}

// decodeJSON decodes with numbers kept exact, and insists on one value.
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// parseFile reads one input file and says what it is. Templates may hold
// comments, as ARM allows; a UTF-8 byte order mark is skipped.
func parseFile(f steward.LighthouseFile) (*doc, error) {
	data := bytes.TrimPrefix(f.Data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "%s is empty; expected a Lighthouse ARM template, parameters file or registration definition (JSON).", f.Name)
	}
	v, err := decodeJSON(data)
	if err != nil {
		if v2, err2 := decodeJSON(stripComments(data)); err2 == nil {
			v, err = v2, nil
		}
	}
	if err != nil {
		return nil, steward.Errorf(steward.EINVALID, "%s is not JSON: %s.", f.Name, describeJSONError(data, err))
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, steward.Errorf(steward.EINVALID, "%s is JSON but not a Lighthouse template: the top level is %s, not an object.", f.Name, jsonType(v))
	}
	d := &doc{name: f.Name, root: root}
	schema, _ := getFold(root, "$schema").(string)
	schema = strings.ToLower(schema)
	switch {
	case getFold(root, "resources") != nil || strings.Contains(schema, "deploymenttemplate"):
		d.kind = kindTemplate
	case strings.Contains(schema, "deploymentparameters") || looksLikeParameters(root):
		d.kind = kindParameters
		params, _ := getFold(root, "parameters").(map[string]any)
		d.values = map[string]any{}
		for _, k := range sortedKeys(params) {
			d.names = append(d.names, k)
			p, _ := params[k].(map[string]any)
			switch {
			case p == nil:
				d.values[strings.ToLower(k)] = unresolved{expr: fmt.Sprintf("parameter %q", k), reason: "not a {\"value\": …} object"}
			case hasKeyFold(p, "value"):
				d.values[strings.ToLower(k)] = getFold(p, "value")
			default:
				d.values[strings.ToLower(k)] = unresolved{expr: fmt.Sprintf("parameter %q", k), reason: "a Key Vault reference"}
			}
		}
	default:
		if props, ok := getFold(root, "properties").(map[string]any); ok && isDefinition(props) {
			d.kind, d.props = kindDefinition, props
			break
		}
		// A REST example: {"parameters": {"requestBody": {"properties": …}}}.
		if p, ok := getFold(root, "parameters").(map[string]any); ok {
			if body, ok := getFold(p, "requestBody").(map[string]any); ok {
				if props, ok := getFold(body, "properties").(map[string]any); ok && isDefinition(props) {
					d.kind, d.props = kindDefinition, props
					break
				}
			}
		}
		return nil, steward.Errorf(steward.EINVALID, "%s is JSON but not a Lighthouse template: it has no \"resources\" (a template), no parameter values (a parameters file) and no \"properties.authorizations\" (a registration definition).", f.Name)
	}
	return d, nil
}

func isDefinition(props map[string]any) bool {
	return hasKeyFold(props, "authorizations") || hasKeyFold(props, "managedByTenantId")
}

// looksLikeParameters reports whether root is {"parameters": {name: {"value"
// or "reference": …}}} with at least one parameter.
func looksLikeParameters(root map[string]any) bool {
	params, ok := getFold(root, "parameters").(map[string]any)
	if !ok || len(params) == 0 {
		return false
	}
	for _, p := range params {
		m, ok := p.(map[string]any)
		if !ok || !(hasKeyFold(m, "value") || hasKeyFold(m, "reference")) {
			return false
		}
	}
	return true
}

// describeJSONError turns a decoder error into "line L, column C: …".
func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset)
		return fmt.Sprintf("line %d, column %d: %s", line, col, syn.Error())
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		line, col := lineCol(data, typ.Offset)
		return fmt.Sprintf("line %d, column %d: %s", line, col, typ.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends in the middle of a value"
	}
	return err.Error()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an object"
}

// stripComments removes // and /* */ comments outside strings, which ARM
// accepts in templates.
func stripComments(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inStr, esc := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			out = append(out, '\n')
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				return out
			}
			i += end + 3
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out
}

// getFold returns m[key] matching the key case-insensitively, as ARM does.
func getFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func hasKeyFold(m map[string]any, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Pair groups input files into the units the validator checks together: a
// template with its parameters file, or a file alone. A template X.json
// pairs with X.parameters.json; a parameters file left over pairs with the
// only unpaired template in the same folder that declares all its
// parameters. Files that do not parse stay alone, so checking their group
// reports why. Groups come in the order of their first file.
func Pair(files []steward.LighthouseFile) [][]steward.LighthouseFile {
	docs := make([]*doc, len(files))
	for i, f := range files {
		docs[i], _ = parseFile(f)
	}
	partner := make([]int, len(files)) // index+1 of the other file of a pair
	kind := func(i int) docKind {
		if docs[i] == nil {
			return 0
		}
		return docs[i].kind
	}
	// By name: X.json with X.parameters.json.
	for t := range files {
		if kind(t) != kindTemplate || partner[t] != 0 {
			continue
		}
		want := strings.ToLower(strings.TrimSuffix(files[t].Name, path.Ext(files[t].Name)) + ".parameters.json")
		for p := range files {
			if kind(p) == kindParameters && partner[p] == 0 && strings.ToLower(files[p].Name) == want {
				partner[t], partner[p] = p+1, t+1
				break
			}
		}
	}
	// By folder and declared parameters, when there is exactly one match.
	for p := range files {
		if kind(p) != kindParameters || partner[p] != 0 {
			continue
		}
		match := -1
		for t := range files {
			if kind(t) != kindTemplate || partner[t] != 0 || dir(files[t].Name) != dir(files[p].Name) || !declaresAll(docs[t], docs[p]) {
				continue
			}
			if match >= 0 {
				match = -2
				break
			}
			match = t
		}
		if match >= 0 {
			partner[match], partner[p] = p+1, match+1
		}
	}
	var groups [][]steward.LighthouseFile
	done := make([]bool, len(files))
	for i := range files {
		if done[i] {
			continue
		}
		done[i] = true
		g := []steward.LighthouseFile{files[i]}
		if j := partner[i] - 1; j >= 0 {
			done[j] = true
			if kind(i) == kindTemplate {
				g = append(g, files[j])
			} else {
				g = []steward.LighthouseFile{files[j], files[i]}
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// dir is the folder part of a file name, with either kind of slash.
func dir(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	return strings.ToLower(path.Dir(name))
}

// declaresAll reports whether the template declares every parameter the
// parameters file sets.
func declaresAll(t, p *doc) bool {
	decl, _ := getFold(t.root, "parameters").(map[string]any)
	for _, n := range p.names {
		if !hasKeyFold(decl, n) {
			return false
		}
	}
	return len(p.names) > 0
}
