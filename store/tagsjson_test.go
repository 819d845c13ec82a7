package store

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestDecodeTagsMatchesEncodingJSON(t *testing.T) {
	for _, tags := range []map[string]string{
		nil,
		{"env": "prod"},
		{"env": "prod", "Owner": "team a", "empty": ""},
		{"quote": `say "hi"`, "path": `C:\temp`, "html": "<b>&</b>", "uni": "Zürich ✓", "nl": "a\nb"},
		{`k"ey`: "v", "k:ey": "v,alue", "{": "}"},
	} {
		text := jsonText(tags)
		got, err := decodeTags(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var want map[string]string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) || len(got) != len(tags) {
			t.Errorf("decodeTags(%s) = %v, want %v", text, got, want)
		}
	}
	for _, bad := range []string{`{"a":"b"`, `{"a":1}`, `{"a":"b",}`, `["a"]`, `{"a""b"}`} {
		if got, err := decodeTags(bad); err == nil {
			t.Errorf("decodeTags(%s) = %v, want an error", bad, got)
		}
	}
}
