package azure

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stewardhq/steward"
)

// Microsoft Graph: the client secrets of the identity's own app
// registration. The app is addressed by its appId alternate key
// (applications(appId='…')), which Graph accepts for reads and for the
// addPassword and removePassword actions. Reading and changing its own app
// needs the Graph application permission Application.ReadWrite.OwnedBy
// with the service principal among the app's owners (or
// Application.ReadWrite.All); without it Graph answers 403, which comes
// back as EFORBIDDEN.

type passwordCredential struct {
	KeyID         string     `json:"keyId"`
	DisplayName   *string    `json:"displayName"`
	Hint          *string    `json:"hint"`
	StartDateTime *time.Time `json:"startDateTime"`
	EndDateTime   *time.Time `json:"endDateTime"`
	SecretText    *string    `json:"secretText"`
}

func (p *passwordCredential) secret() *steward.AzureAppSecret {
	return &steward.AzureAppSecret{
		KeyID: p.KeyID, DisplayName: deref(p.DisplayName), Hint: deref(p.Hint),
		StartsAt: deref(p.StartDateTime), ExpiresAt: deref(p.EndDateTime),
	}
}

// appPath is the Graph path of the identity's own application.
func appPath(clientID string) string {
	return "/applications(appId='" + url.PathEscape(clientID) + "')"
}

// graphCall sends a Graph request through the identity's Graph pipeline.
func (c *Connector) graphCall(ctx context.Context, ent *identity, method, path string, body, out any, ok ...int) error {
	req, err := runtime.NewRequest(ctx, method, c.graphURL+path)
	if err != nil {
		return steward.WrapError(steward.EINTERNAL, err, "Cannot build a Microsoft Graph request.")
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return steward.WrapError(steward.EINTERNAL, err, "Cannot encode a Microsoft Graph request.")
		}
	}
	resp, err := ent.graph.Do(req)
	if err != nil {
		return err
	}
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return newResponseError(resp)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := runtime.UnmarshalAsJSON(resp, out); err != nil {
			return steward.WrapError(steward.EUNAVAILABLE, err, "Microsoft Graph answered with JSON Steward cannot read.")
		}
	}
	return nil
}

// AppSecrets lists the client secrets of the identity's own app
// registration, without their values. EFORBIDDEN (no Graph permission on
// the app), ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) AppSecrets(ctx context.Context, id steward.AzureIdentity) ([]*steward.AzureAppSecret, error) {
	doing := "reading the secrets of app " + id.ClientID
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	var app struct {
		PasswordCredentials []passwordCredential `json:"passwordCredentials"`
	}
	if err := c.graphCall(ctx, ent, http.MethodGet, appPath(id.ClientID)+"?$select=id,appId,passwordCredentials", nil, &app); err != nil {
		return nil, azError(err, doing)
	}
	out := make([]*steward.AzureAppSecret, 0, len(app.PasswordCredentials))
	for i := range app.PasswordCredentials {
		out = append(out, app.PasswordCredentials[i].secret())
	}
	return out, nil
}

// AppSecretAdd adds a client secret to the identity's app (addPassword)
// and returns it with its value, which Graph shows only now. EINVALID,
// EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) AppSecretAdd(ctx context.Context, id steward.AzureIdentity, displayName string, expires time.Time) (*steward.AzureAppSecret, steward.Secret, error) {
	doing := "adding a secret to app " + id.ClientID
	ent, err := c.identity(id)
	if err != nil {
		return nil, "", err
	}
	in := map[string]any{"displayName": displayName}
	if !expires.IsZero() {
		in["endDateTime"] = expires.UTC().Format(time.RFC3339)
	}
	var p passwordCredential
	if err := c.graphCall(ctx, ent, http.MethodPost, appPath(id.ClientID)+"/addPassword", map[string]any{"passwordCredential": in}, &p); err != nil {
		return nil, "", azError(err, doing)
	}
	if p.SecretText == nil || *p.SecretText == "" {
		return nil, "", steward.Errorf(steward.EUNAVAILABLE, "Microsoft Graph added secret %s to app %s but returned no value; remove it and try again.", p.KeyID, id.ClientID)
	}
	return p.secret(), steward.Secret(*p.SecretText), nil
}

// AppSecretRemove removes a client secret of the identity's app by key ID
// (removePassword). EINVALID (no such key), EFORBIDDEN, ENOTFOUND,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) AppSecretRemove(ctx context.Context, id steward.AzureIdentity, keyID string) error {
	doing := "removing secret " + keyID + " from app " + id.ClientID
	ent, err := c.identity(id)
	if err != nil {
		return err
	}
	err = c.graphCall(ctx, ent, http.MethodPost, appPath(id.ClientID)+"/removePassword", map[string]string{"keyId": keyID}, nil, http.StatusNoContent, http.StatusOK)
	return azError(err, doing)
}
