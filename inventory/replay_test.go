package inventory_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/internal/recorded"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestWriteBackOnRecordedNoOpDelete runs the write-back against Azure's
// recorded answers (TestTagsClient.json): the tags GET, then the answer to
// a PATCH Delete that deleted nothing (recorded: 200, both tags still
// there). Steward sends the name with the value it last saw, and does not
// take Azure's 200 for the change: the item fails, naming what Azure kept.
func TestWriteBackOnRecordedNoOpDelete(t *testing.T) {
	tags := recorded.Load(t, "resources/TestTagsClient.json")
	signIn := recorded.Load(t, "identity/TestClientAssertionCredential_Live/instance_discovery_disabled.json")

	// Steward's side: a resource with the recorded tags, synced, and an
	// edit deleting tagKey1.
	w := newWorld(t, storetest.Open(t, store.SQLite))
	res := w.azureResources(t, w.subs[0])[0]
	if _, err := w.az.TagsMerge(w.ctx, w.outside, res.ID, map[string]string{"tagKey1": "tagValue1", "tagKey2": "tagValue2"}); err != nil {
		t.Fatal(err)
	}
	w.syncAll(t)
	edit, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Delete: []string{"tagKey1"}})
	if err != nil {
		t.Fatal(err)
	}

	// Azure's side: the recorded answers, for this tenant and resource.
	rp := recorded.Serve(t, append(signIn.Entries, tags.Find(t, "GET", "/tags/default"), tags.Find(t, "PATCH", "/tags/default"))...)
	rp.Map("fake-tenant", w.tenant.ID)
	rp.Map("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Sanitized", res.ID)
	az, err := azure.NewFromConnection(rp.Connection(), azure.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Close)
	inv, err := inventory.New(inventory.Config{Store: w.db, Azure: az, Box: w.box})
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.ApplyTagEdits(steward.NewSystemContext(w.ctx), w.subs[0]); err != nil {
		t.Fatal(err)
	}

	served := rp.Served()
	if len(served) != 4 || served[3].Method != "PATCH" {
		t.Fatalf("%d requests served, want sign-in, GET and PATCH", len(served))
	}
	var sent any
	if err := json.Unmarshal(served[3].Body, &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"operation": "Delete", "properties": map[string]any{"tags": map[string]any{"tagKey1": "tagValue1"}}}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("sent %v, want the name with the value Steward last saw: %v", sent, want)
	}
	items, err := w.db.TagEditItems(w.ctx, everything, edit.ID, "", 0, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("items %+v, %v", items, err)
	}
	if it := items[0]; it.Status != steward.EditFailed || !strings.Contains(it.LastError, `tagKey1="tagValue1"`) {
		t.Errorf("item %s (%q), want failed naming the tag Azure kept", it.Status, it.LastError)
	}
}
