package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/stewardhq/steward"
)

// API versions of the thin-client calls.
const (
	resourcesAPI   = "2021-04-01" // armresources v1.2.0's
	permissionsAPI = "2022-04-01"
	activityAPI    = "2015-04-01"
)

// ownerAction is what makes a user able to assign roles: Owner and User
// Access Administrator grant it.
const ownerAction = "Microsoft.Authorization/roleAssignments/write"

// Subscriptions lists the subscriptions the identity can see,
// Lighthouse-delegated ones included. EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Subscriptions(ctx context.Context, id steward.AzureIdentity) ([]*steward.AzureSubscription, error) {
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	return listSubscriptions(ctx, ent.cred, ent.opts)
}

func listSubscriptions(ctx context.Context, cred azcore.TokenCredential, opts *arm.ClientOptions) ([]*steward.AzureSubscription, error) {
	const doing = "listing subscriptions"
	client, err := armsubscriptions.NewClient(cred, opts)
	if err != nil {
		return nil, azError(err, doing)
	}
	var out []*steward.AzureSubscription
	pager := client.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azError(err, doing)
		}
		for _, s := range page.Value {
			if s == nil {
				continue
			}
			as := &steward.AzureSubscription{
				ID: deref(s.SubscriptionID), DisplayName: deref(s.DisplayName), HomeTenantID: deref(s.TenantID),
				Tags: tagMap(s.Tags),
			}
			if s.State != nil {
				as.State = string(*s.State)
			}
			for _, m := range s.ManagedByTenants {
				if m != nil && m.TenantID != nil {
					as.ManagedByTenants = append(as.ManagedByTenants, *m.TenantID)
				}
			}
			out = append(out, as)
		}
	}
	return out, nil
}

// ResourceGroups lists a subscription's resource groups with their tags.
// The pages come through the thin client and decode into armGroupList,
// which reads only what Steward keeps (armresources' models decode every
// field through maps of raw JSON). EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED,
// EUNAVAILABLE.
func (c *Connector) ResourceGroups(ctx context.Context, id steward.AzureIdentity, subscriptionID string) ([]*steward.ResourceGroup, error) {
	doing := "listing the resource groups of subscription " + subscriptionID
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	if subscriptionID == "" {
		return nil, steward.Errorf(steward.EINVALID, "Listing resource groups needs a subscription ID.")
	}
	var out []*steward.ResourceGroup
	for next := "/subscriptions/" + url.PathEscape(subscriptionID) + "/resourcegroups?" + query("api-version", resourcesAPI); next != ""; {
		var res armGroupList
		if _, err := c.armCall(ctx, ent.arm, http.MethodGet, next, nil, &res); err != nil {
			return nil, azError(err, doing)
		}
		for _, g := range res.Value {
			if g == nil {
				continue
			}
			out = append(out, &steward.ResourceGroup{SubscriptionID: subscriptionID, Name: g.Name, Location: g.Location, Tags: leanTags(g.Tags)})
		}
		next = res.NextLink
	}
	return out, nil
}

// Resources lists a subscription's resources page by page, from resume (a
// nextLink of an earlier page) or from the start. Every page, the first
// included, is fetched through the thin client (the pipeline of the SDK
// clients: credential, retries, throttling budget) and decoded into
// armResourceList, which reads only what Steward keeps: armresources'
// ResourceListResult decodes every field through maps of raw JSON and
// cost most of a sync's CPU.
// EINVALID (a resume link not on Resource Manager), EFORBIDDEN, ENOTFOUND,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Resources(ctx context.Context, id steward.AzureIdentity, subscriptionID, resume string) steward.ResourcePages {
	doing := "listing the resources of subscription " + subscriptionID
	return func(yield func(*steward.ResourcePage, error) bool) {
		ent, err := c.identity(id)
		if err != nil {
			yield(nil, err)
			return
		}
		next := resume
		switch {
		case resume == "" && subscriptionID == "":
			yield(nil, steward.Errorf(steward.EINVALID, "Listing resources needs a subscription ID."))
			return
		case resume == "":
			next = "/subscriptions/" + url.PathEscape(subscriptionID) + "/resources?" +
				query("$top", strconv.Itoa(c.cfg.PageSize), "api-version", resourcesAPI)
		case !c.onSubscription(resume, subscriptionID):
			yield(nil, steward.Errorf(steward.EINVALID, "The continuation link is not a resource listing of subscription %s.", subscriptionID))
			return
		}
		for next != "" {
			var res armResourceList
			if _, err := c.armCall(ctx, ent.arm, http.MethodGet, next, nil, &res); err != nil {
				yield(nil, azError(err, doing))
				return
			}
			page := resourcePage(subscriptionID, &res)
			next = page.Next
			if !yield(page, nil) {
				return
			}
		}
	}
}

// onSubscription reports whether a link is on the Resource Manager
// endpoint under the subscription.
func (c *Connector) onSubscription(link, subscriptionID string) bool {
	u, err := c.armURLFor(link)
	if err != nil {
		return false
	}
	prefix := strings.ToLower(c.armURL + "/subscriptions/" + subscriptionID + "/")
	return strings.HasPrefix(strings.ToLower(u), prefix)
}

// armResourceList is a page of GET /subscriptions/{id}/resources, cut
// down to the fields Steward keeps.
type armResourceList struct {
	Value    []*armResource `json:"value"`
	NextLink string         `json:"nextLink"`
}

type armResource struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// armGroupList is a page of GET /subscriptions/{id}/resourcegroups, cut
// down likewise.
type armGroupList struct {
	Value    []*armGroup `json:"value"`
	NextLink string      `json:"nextLink"`
}

type armGroup struct {
	Name     string            `json:"name"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

func resourcePage(subscriptionID string, res *armResourceList) *steward.ResourcePage {
	p := &steward.ResourcePage{Resources: make([]*steward.Resource, 0, len(res.Value)), Next: res.NextLink}
	for _, r := range res.Value {
		if r == nil || r.ID == "" {
			continue
		}
		p.Resources = append(p.Resources, &steward.Resource{
			ID: r.ID, SubscriptionID: subscriptionID, ResourceGroup: groupOf(r.ID),
			Name: r.Name, Type: r.Type, Location: r.Location, Tags: leanTags(r.Tags),
		})
	}
	return p
}

// groupOf returns the resource group named in an ARM ID, or "".
// It walks the segments without splitting: sync calls it for every
// resource.
func groupOf(armID string) string {
	rest := strings.Trim(armID, "/")
	for {
		seg, after, more := strings.Cut(rest, "/")
		if !more {
			return ""
		}
		if strings.EqualFold(seg, "resourceGroups") {
			next, _, _ := strings.Cut(after, "/")
			return next
		}
		rest = after
	}
}

// subscriptionOf returns the subscription ID named in an ARM ID, or "".
func subscriptionOf(armID string) string {
	segs := strings.Split(strings.Trim(armID, "/"), "/")
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		return segs[1]
	}
	return ""
}

// tagsClient returns a Tags API client. The *AtScope operations ignore the
// subscription, so the scope's own is passed for the record.
func (c *Connector) tagsClient(id steward.AzureIdentity, scope string) (*armresources.TagsClient, error) {
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	client, err := armresources.NewTagsClient(subscriptionOf(scope), ent.cred, ent.opts)
	if err != nil {
		return nil, azError(err, "reading tags")
	}
	return client, nil
}

func checkScope(scope string) error {
	if subscriptionOf(scope) == "" {
		return steward.Errorf(steward.EINVALID, "Tags live on subscriptions, resource groups and resources; %q is none of them.", scope)
	}
	return nil
}

// TagsGet returns the tags at a scope (resource, group or subscription).
// EINVALID, EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) TagsGet(ctx context.Context, id steward.AzureIdentity, scope string) (map[string]string, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	client, err := c.tagsClient(id, scope)
	if err != nil {
		return nil, err
	}
	resp, err := client.GetAtScope(ctx, scope, nil)
	if err != nil {
		return nil, azError(err, "reading the tags of "+scope)
	}
	return tagsOf(resp.TagsResource), nil
}

// TagsMerge sets tags at a scope with the Tags API (PATCH Merge, never a
// PUT of the resource) and returns the scope's tags afterwards. EINVALID,
// EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) TagsMerge(ctx context.Context, id steward.AzureIdentity, scope string, tags map[string]string) (map[string]string, error) {
	if len(tags) == 0 {
		return c.TagsGet(ctx, id, scope)
	}
	return c.tagsPatch(ctx, id, scope, armresources.TagsPatchOperationMerge, tags, "writing tags on "+scope)
}

// TagsDelete removes tags at a scope while they hold the values given, by
// name (PATCH Delete), and returns the tags afterwards. Azure compares the
// value: recorded, a Delete naming another value answers 200 and deletes
// nothing (recordings/README.md §15), so a tag changed meanwhile survives
// and the answer shows it. No recording shows what an empty value does, so
// Steward always sends the value it last saw. EINVALID, EFORBIDDEN,
// ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) TagsDelete(ctx context.Context, id steward.AzureIdentity, scope string, tags map[string]string) (map[string]string, error) {
	if len(tags) == 0 {
		return c.TagsGet(ctx, id, scope)
	}
	return c.tagsPatch(ctx, id, scope, armresources.TagsPatchOperationDelete, tags, "deleting tags on "+scope)
}

func (c *Connector) tagsPatch(ctx context.Context, id steward.AzureIdentity, scope string, op armresources.TagsPatchOperation, tags map[string]string, doing string) (map[string]string, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	client, err := c.tagsClient(id, scope)
	if err != nil {
		return nil, err
	}
	in := make(map[string]*string, len(tags))
	for k, v := range tags {
		in[k] = to.Ptr(v)
	}
	resp, err := client.UpdateAtScope(ctx, scope, armresources.TagsPatchResource{
		Operation: to.Ptr(op), Properties: &armresources.Tags{Tags: in},
	}, nil)
	if err != nil {
		return nil, azError(err, doing)
	}
	return tagsOf(resp.TagsResource), nil
}

func tagsOf(r armresources.TagsResource) map[string]string {
	if r.Properties == nil {
		return map[string]string{}
	}
	out := tagMap(r.Properties.Tags)
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// Permissions returns the identity's effective permissions at a scope.
// armauthorization's PermissionsClient covers resource groups and
// resources only, so a subscription scope goes through the thin client (the
// same GET, api-version 2022-04-01). EINVALID, EFORBIDDEN, ENOTFOUND,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Permissions(ctx context.Context, id steward.AzureIdentity, scope string) (steward.AzurePermissions, error) {
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	return permissions(ctx, c, ent.cred, ent.opts, ent.arm, scope)
}

func permissions(ctx context.Context, c *Connector, cred azcore.TokenCredential, opts *arm.ClientOptions, thin *arm.Client, scope string) (steward.AzurePermissions, error) {
	doing := "reading permissions at " + scope
	sub := subscriptionOf(scope)
	if sub == "" {
		return nil, steward.Errorf(steward.EINVALID, "Permissions are listed at a subscription, resource group or resource; %q is none of them.", scope)
	}
	ref := parseScope(scope)
	var out steward.AzurePermissions
	add := func(ps []*armauthorization.Permission) {
		for _, p := range ps {
			if p != nil {
				out = append(out, steward.RolePermission{
					Actions: derefAll(p.Actions), NotActions: derefAll(p.NotActions),
					DataActions: derefAll(p.DataActions), NotDataActions: derefAll(p.NotDataActions),
				})
			}
		}
	}
	if ref.group == "" {
		for next := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/permissions?" + query("api-version", permissionsAPI); next != ""; {
			var res armauthorization.PermissionGetResult
			if _, err := c.armCall(ctx, thin, http.MethodGet, next, nil, &res); err != nil {
				return nil, azError(err, doing)
			}
			add(res.Value)
			next = deref(res.NextLink)
		}
		return out, nil
	}
	client, err := armauthorization.NewPermissionsClient(sub, cred, opts)
	if err != nil {
		return nil, azError(err, doing)
	}
	if ref.resourceType == "" {
		pager := client.NewListForResourceGroupPager(ref.group, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, azError(err, doing)
			}
			add(page.Value)
		}
		return out, nil
	}
	pager := client.NewListForResourcePager(ref.group, ref.namespace, ref.parentPath, ref.resourceType, ref.name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azError(err, doing)
		}
		add(page.Value)
	}
	return out, nil
}

// scopeRef is an ARM scope taken apart the way the SDK's per-resource
// operations want it.
type scopeRef struct {
	sub, group                                string
	namespace, parentPath, resourceType, name string
}

// parseScope reads /subscriptions/{s}[/resourceGroups/{g}[/providers/{ns}/{type}/{name}[/{type}/{name}…]]].
func parseScope(scope string) scopeRef {
	segs := strings.Split(strings.Trim(scope, "/"), "/")
	var r scopeRef
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		r.sub = segs[1]
	}
	if len(segs) >= 4 && strings.EqualFold(segs[2], "resourceGroups") {
		r.group = segs[3]
	}
	if len(segs) >= 8 && strings.EqualFold(segs[4], "providers") && len(segs)%2 == 0 {
		r.namespace = segs[5]
		rest := segs[6:]
		r.resourceType, r.name = rest[len(rest)-2], rest[len(rest)-1]
		r.parentPath = strings.Join(rest[:len(rest)-2], "/")
	}
	return r
}

// RoleAssignments lists assignments at or above a scope (atScope()), for
// one principal when principalID is set. EFORBIDDEN, ENOTFOUND,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) RoleAssignments(ctx context.Context, id steward.AzureIdentity, scope, principalID string) ([]*steward.AzureRoleAssignment, error) {
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	return roleAssignments(ctx, ent.cred, ent.opts, scope, principalID)
}

func roleAssignments(ctx context.Context, cred azcore.TokenCredential, opts *arm.ClientOptions, scope, principalID string) ([]*steward.AzureRoleAssignment, error) {
	doing := "listing role assignments at " + scope
	client, err := armauthorization.NewRoleAssignmentsClient(subscriptionOf(scope), cred, opts)
	if err != nil {
		return nil, azError(err, doing)
	}
	filter := "atScope()"
	if principalID != "" {
		filter += " and principalId eq '" + principalID + "'"
	}
	var out []*steward.AzureRoleAssignment
	pager := client.NewListForScopePager(strings.TrimSuffix(scope, "/"), &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azError(err, doing)
		}
		for _, a := range page.Value {
			if ra := assignment(a); ra != nil && (principalID == "" || strings.EqualFold(ra.PrincipalID, principalID)) && !below(ra.Scope, scope) {
				out = append(out, ra)
			}
		}
	}
	return out, nil
}

// below reports whether an assignment's scope is strictly under scope:
// atScope() excludes those, but a principal filter alone would not.
func below(assigned, scope string) bool {
	a := strings.ToLower(strings.TrimSuffix(assigned, "/"))
	s := strings.ToLower(strings.TrimSuffix(scope, "/"))
	return strings.HasPrefix(a, s+"/")
}

func assignment(a *armauthorization.RoleAssignment) *steward.AzureRoleAssignment {
	if a == nil || a.ID == nil || a.Properties == nil {
		return nil
	}
	p := a.Properties
	ra := &steward.AzureRoleAssignment{
		ID: *a.ID, Scope: deref(p.Scope), RoleDefinitionID: lastSegment(deref(p.RoleDefinitionID)), PrincipalID: deref(p.PrincipalID),
	}
	if p.PrincipalType != nil {
		ra.PrincipalType = string(*p.PrincipalType)
	}
	return ra
}

// Activity lists a subscription's write operations since a time, oldest
// first, from the activity log (thin client: no SDK module on the proxy).
// Only events that finished are kept (Azure also logs each start).
// EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Activity(ctx context.Context, id steward.AzureIdentity, subscriptionID string, since time.Time) ([]*steward.AzureActivity, error) {
	doing := "reading the activity log of subscription " + subscriptionID
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	const stamp = "2006-01-02T15:04:05.0000000Z"
	filter := fmt.Sprintf("eventTimestamp ge '%s' and eventTimestamp le '%s'", since.UTC().Format(stamp), time.Now().UTC().Add(time.Minute).Format(stamp))
	next := "/subscriptions/" + subscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?" +
		query("api-version", activityAPI, "$filter", filter, "$select", "eventTimestamp,caller,operationName,resourceId,status,correlationId")
	var out []*steward.AzureActivity
	for next != "" {
		var res struct {
			Value []struct {
				EventTimestamp time.Time `json:"eventTimestamp"`
				Caller         string    `json:"caller"`
				OperationName  localized `json:"operationName"`
				ResourceID     string    `json:"resourceId"`
				Status         localized `json:"status"`
				CorrelationID  string    `json:"correlationId"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if _, err := c.armCall(ctx, ent.arm, http.MethodGet, next, nil, &res); err != nil {
			return nil, azError(err, doing)
		}
		for _, v := range res.Value {
			if strings.EqualFold(v.Status.Value, "Started") || strings.EqualFold(v.Status.Value, "Accepted") {
				continue
			}
			out = append(out, &steward.AzureActivity{
				Time: v.EventTimestamp, Caller: v.Caller, Operation: v.OperationName.Value, ResourceID: v.ResourceID,
				Status: v.Status.Value, CorrelationID: v.CorrelationID,
			})
		}
		next = res.NextLink
	}
	slices.SortStableFunc(out, func(a, b *steward.AzureActivity) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// localized is Azure's {"value","localizedValue"} pair.
type localized struct {
	Value string `json:"value"`
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func derefAll(ps []*string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func tagMap(in map[string]*string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = deref(v)
	}
	return out
}

// leanTags returns the tags of a lean decode, nil when there are none, as
// tagMap does for the SDK's models. encoding/json stores a null value as
// "", as tagMap does.
func leanTags(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	return in
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(strings.TrimSuffix(s, "/"), '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
