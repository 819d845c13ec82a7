package azure

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stewardhq/steward"
)

// The thin client: Resource Manager calls without an SDK module, sent
// through arm.Client's pipeline so they share the credential, retries,
// throttling budget and cloud of the SDK clients.

// armCall sends method to path (relative to the Resource Manager endpoint,
// with its query) or to an absolute URL on that endpoint (a nextLink),
// marshals body as JSON when it is not nil, and unmarshals the answer into
// out when it is not nil. Statuses other than ok fail.
func (c *Connector) armCall(ctx context.Context, client *arm.Client, method, pathOrURL string, body, out any, ok ...int) (*http.Response, error) {
	u, err := c.armURLFor(pathOrURL)
	if err != nil {
		return nil, err
	}
	req, err := runtime.NewRequest(ctx, method, u)
	if err != nil {
		return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot build a Resource Manager request.")
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, steward.WrapError(steward.EINTERNAL, err, "Cannot encode a Resource Manager request.")
		}
	}
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return resp, newResponseError(resp)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := runtime.UnmarshalAsJSON(resp, out); err != nil {
			return resp, steward.WrapError(steward.EUNAVAILABLE, err, "Azure answered with JSON Steward cannot read.")
		}
	}
	return resp, nil
}

// armURLFor resolves a path against the Resource Manager endpoint, and
// checks that an absolute URL (a nextLink, perhaps stored and handed back)
// points at that endpoint, so a token is never sent anywhere else.
func (c *Connector) armURLFor(pathOrURL string) (string, error) {
	if strings.HasPrefix(pathOrURL, "/") {
		return c.armURL + pathOrURL, nil
	}
	u, err := url.Parse(pathOrURL)
	base, _ := url.Parse(c.armURL)
	if err != nil || base == nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return "", steward.Errorf(steward.EINVALID, "The continuation link does not point at Azure Resource Manager (%s).", c.armURL)
	}
	return u.String(), nil
}

// query builds an encoded query string. Keys starting with "$" stay as
// they are: url.Values would escape them, which Azure accepts, but a
// readable URL helps when it lands in a log.
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return strings.ReplaceAll(b.String(), "%24", "$")
}
