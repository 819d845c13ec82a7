package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// This file holds what the inventory files share: list placeholders, JSON
// columns, tag rows and days.

var _ steward.InventoryStore = (*DB)(nil)

// addList adds each value and returns their placeholders, comma-separated,
// for an IN list.
func addList[T any](db *DB, a *args, vs []T) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		*a = append(*a, v)
		ph[i] = db.placeholder(len(*a))
	}
	return strings.Join(ph, ", ")
}

// addLower adds lower-cased IDs for an IN list.
func (a *args) addLower(ids []string) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = a.add(strings.ToLower(id))
	}
	return strings.Join(ph, ", ")
}

// jsonText encodes v for a TEXT column: maps with sorted keys, "{}" or
// "[]" for nothing.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encoding %T: %v", v, err)) // only maps, slices and structs of strings
	}
	switch string(b) {
	case "null":
		switch v.(type) {
		case []string, []steward.TagConflict:
			return "[]"
		}
		return "{}"
	}
	return string(b)
}

// fromJSON decodes a TEXT column written by jsonText.
func fromJSON(s string, v any) error {
	if s == "" || s == "{}" || s == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decoding stored JSON: %w", err)
	}
	return nil
}

// tagRow is one row of resource_tags (or tag_set_tags).
type tagRow struct {
	keyNorm, key, value string
}

// tagRows returns a tag set as rows, one per lower-cased name. Azure never
// returns two spellings of one name; should the input have them anyway, the
// first spelling in sorted order wins the row (the JSON keeps both).
func tagRows(tags map[string]string) []tagRow {
	if len(tags) == 0 {
		return nil
	}
	out := make([]tagRow, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		kn := steward.TagKey(k)
		if seen[kn] {
			continue
		}
		seen[kn] = true
		out = append(out, tagRow{kn, k, tags[k]})
	}
	return out
}

// tagChange is one changed tag for tag_history.
type tagChange struct {
	key      string
	old, new *string
}

// diffTags lists the changes from before to after, by name as spelled (a
// change of case is a removal and an addition, as people see it in Azure).
func diffTags(before, after map[string]string) []tagChange {
	var out []tagChange
	for _, k := range slices.Sorted(maps.Keys(before)) {
		v := before[k]
		if nv, ok := after[k]; !ok {
			out = append(out, tagChange{key: k, old: &v})
		} else if nv != v {
			out = append(out, tagChange{key: k, old: &v, new: &nv})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[k]; !ok {
			v := after[k]
			out = append(out, tagChange{key: k, new: &v})
		}
	}
	return out
}

// dayNumber stores a day as yyyymmdd, which sorts and ranges like the day.
func dayNumber(t time.Time) int64 {
	t = t.UTC()
	return int64(t.Year())*10000 + int64(t.Month())*100 + int64(t.Day())
}

// fromDayNumber reads a day stored by dayNumber.
func fromDayNumber(n int64) time.Time {
	return time.Date(int(n/10000), time.Month(n/100%100), int(n%100), 0, 0, 0, 0, time.UTC)
}

// listLimit applies a listing's default and cap.
func listLimit(limit, def, max int) int {
	switch {
	case limit <= 0:
		return def
	case limit > max:
		return max
	}
	return limit
}
