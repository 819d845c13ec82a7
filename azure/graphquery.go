package azure

import (
	"cmp"
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"

	"github.com/stewardhq/steward"
)

// resourcesQuery lists what Steward keeps of a resource.
const resourcesQuery = "Resources | project id, name, type, location, resourceGroup, subscriptionId, tags"

// ResourcesGraph lists the resources of many subscriptions through Resource
// Graph, 1,000 a page (Config.PageSize; objectArray results), from resume (a $skipToken) or
// the start. Each page costs one query of the user's quota; the budget
// policy spaces the queries when the quota runs low. EFORBIDDEN,
// EINVALID, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) ResourcesGraph(ctx context.Context, id steward.AzureIdentity, subscriptionIDs []string, resume string) steward.ResourcePages {
	const doing = "querying Resource Graph"
	return func(yield func(*steward.ResourcePage, error) bool) {
		if len(subscriptionIDs) == 0 {
			return
		}
		ent, err := c.identity(id)
		if err != nil {
			yield(nil, err)
			return
		}
		client, err := armresourcegraph.NewClient(ent.cred, ent.opts)
		if err != nil {
			yield(nil, azError(err, doing))
			return
		}
		subs := make([]*string, len(subscriptionIDs))
		for i, s := range subscriptionIDs {
			subs[i] = to.Ptr(s)
		}
		skip := resume
		for {
			opts := &armresourcegraph.QueryRequestOptions{
				ResultFormat: to.Ptr(armresourcegraph.ResultFormatObjectArray),
				Top:          to.Ptr(int32(c.cfg.PageSize)),
			}
			if skip != "" {
				opts.SkipToken = to.Ptr(skip)
			}
			resp, err := client.Resources(ctx, armresourcegraph.QueryRequest{
				Query: to.Ptr(resourcesQuery), Subscriptions: subs, Options: opts,
			}, nil)
			if err != nil {
				yield(nil, azError(err, doing))
				return
			}
			page := &steward.ResourcePage{Next: deref(resp.SkipToken)}
			rows, _ := resp.Data.([]any)
			for _, row := range rows {
				if r := graphResource(row); r != nil {
					page.Resources = append(page.Resources, r)
				}
			}
			if !yield(page, nil) || page.Next == "" {
				return
			}
			skip = page.Next
		}
	}
}

// graphResource reads one objectArray row.
func graphResource(row any) *steward.Resource {
	m, ok := row.(map[string]any)
	if !ok {
		return nil
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	id := str("id")
	if id == "" {
		return nil
	}
	r := &steward.Resource{
		ID: id, SubscriptionID: cmp.Or(str("subscriptionId"), subscriptionOf(id)), ResourceGroup: cmp.Or(str("resourceGroup"), groupOf(id)),
		Name: str("name"), Type: str("type"), Location: str("location"),
	}
	if tags, ok := m["tags"].(map[string]any); ok && len(tags) > 0 {
		r.Tags = make(map[string]string, len(tags))
		for k, v := range tags {
			s, _ := v.(string)
			r.Tags[k] = s
		}
	}
	// Resource Graph lower-cases resource groups; keep the ID's spelling.
	if g := groupOf(id); g != "" && strings.EqualFold(g, r.ResourceGroup) {
		r.ResourceGroup = g
	}
	return r
}
