package azure

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/google/uuid"

	"github.com/stewardhq/steward"
)

// Admin consent with the authorization code flow: the admin signs in to
// Steward's app, consents for the tenant, and the code is swapped for a
// delegated Resource Manager token that lives in memory for at most its
// hour. No refresh token is asked for (no offline_access) or kept.

// ConsentURL is where to send a customer's admin to consent to Steward's
// app and sign in. EINVALID.
func (c *Connector) ConsentURL(req steward.ConsentRequest) (string, error) {
	if c.cfg.App.ClientID == "" {
		return "", steward.Errorf(steward.EINVALID, "Steward's Azure app is not configured (no client ID).")
	}
	if req.RedirectURI == "" || req.State == "" {
		return "", steward.Errorf(steward.EINVALID, "Consent needs a redirect URI and a state.")
	}
	tenant := cmp.Or(req.TenantID, "organizations")
	q := url.Values{}
	q.Set("client_id", c.cfg.App.ClientID)
	q.Set("response_type", "code")
	q.Set("redirect_uri", req.RedirectURI)
	q.Set("response_mode", "query")
	q.Set("scope", c.userScope)
	q.Set("state", req.State)
	q.Set("prompt", "consent")
	return c.authority + url.PathEscape(tenant) + "/oauth2/v2.0/authorize?" + q.Encode(), nil
}

// ConsentExchange swaps the authorization code for the consenting user's
// delegated Resource Manager token, with Steward's app secret. The token's
// claims (oid, upn, tid, exp) are read without verifying its signature: it
// came straight from the token endpoint over TLS. EUNAUTHORIZED (the code
// or the app secret was refused), EINVALID, EUNAVAILABLE.
func (c *Connector) ConsentExchange(ctx context.Context, tenantID, code, redirectURI string) (*steward.DelegatedToken, error) {
	const doing = "exchanging the consent code"
	if c.cfg.App.ClientID == "" || c.cfg.App.Secret == "" {
		return nil, steward.Errorf(steward.EINVALID, "Steward's Azure app is not configured (no client ID or secret).")
	}
	if code == "" {
		return nil, steward.Errorf(steward.EINVALID, "The consent answer has no authorization code.")
	}
	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("client_id", c.cfg.App.ClientID)
	form.Set("client_secret", c.cfg.App.Secret.Reveal())
	form.Set("code", code)
	form.Set("redirect_uri", redirectURI)
	form.Set("scope", c.userScope)
	endpoint := c.authority + url.PathEscape(cmp.Or(tenantID, "organizations")) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, steward.WrapError(steward.EINVALID, err, "Cannot build the token request for tenant %q.", tenantID)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The error quotes the URL only; the form (with the secret) is not in it.
		return nil, azError(err, doing)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, azError(err, doing)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		cause := errors.New("token endpoint: " + resp.Status + ": " + tr.Error + ": " + firstLine(tr.Description))
		if resp.StatusCode >= 500 {
			return nil, steward.WrapError(steward.EUNAVAILABLE, cause, "Entra ID failed while %s; try again later.", doing)
		}
		if n := aadsts(cause); n != 0 {
			what := "the code or Steward's app credential was refused"
			if n == aadstsBadSecret || n == aadstsExpiredSecret {
				what = "Steward's app secret is wrong or expired"
			}
			return nil, steward.WrapError(steward.EUNAUTHORIZED, cause, "Entra ID refused the consent while %s: %s (AADSTS%d).", doing, what, n)
		}
		return nil, steward.WrapError(steward.EUNAUTHORIZED, cause, "Entra ID refused the consent while %s (%s).", doing, cmp.Or(tr.Error, resp.Status))
	}
	cl, err := parseClaims(tr.AccessToken)
	if err != nil {
		return nil, steward.WrapError(steward.EUNAVAILABLE, err, "Entra ID issued a token Steward cannot read.")
	}
	if tr.IDToken != "" {
		if idc, err := parseClaims(tr.IDToken); err == nil {
			cl.fill(idc)
		}
	}
	exp := time.Unix(cl.Exp, 0)
	if cl.Exp == 0 {
		exp = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	if cl.TID == "" || cl.OID == "" {
		return nil, steward.Errorf(steward.EUNAVAILABLE, "Entra ID issued a token without the user's tenant or object ID.")
	}
	return &steward.DelegatedToken{
		TenantID: cl.TID, UserID: cl.OID, UserName: cl.userName(), Token: steward.Secret(tr.AccessToken), ExpiresAt: exp,
	}, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// claims are the JWT claims Steward reads.
type claims struct {
	OID               string `json:"oid"`
	TID               string `json:"tid"`
	UPN               string `json:"upn"`
	PreferredUsername string `json:"preferred_username"`
	UniqueName        string `json:"unique_name"`
	Exp               int64  `json:"exp"`
}

func (c *claims) userName() string { return cmp.Or(c.UPN, cmp.Or(c.PreferredUsername, c.UniqueName)) }

// fill takes what c lacks from o.
func (c *claims) fill(o *claims) {
	c.OID, c.TID, c.UPN = cmp.Or(c.OID, o.OID), cmp.Or(c.TID, o.TID), cmp.Or(c.UPN, o.UPN)
	c.PreferredUsername = cmp.Or(c.PreferredUsername, o.PreferredUsername)
}

// parseClaims decodes a JWT's payload without verifying it.
func parseClaims(jwt string) (*claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("JWT payload is not base64url")
	}
	var cl claims
	if err := json.Unmarshal(b, &cl); err != nil {
		return nil, errors.New("JWT payload is not JSON")
	}
	return &cl, nil
}

// staticCredential hands out one delegated token until it expires.
type staticCredential struct {
	token string
	exp   time.Time
}

func (s *staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if time.Now().After(s.exp) {
		return azcore.AccessToken{}, steward.Errorf(steward.EUNAUTHORIZED, "The consent session has expired; consent again.")
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: s.exp}, nil
}

// delegated builds clients on a user's delegated token.
func (c *Connector) delegated(tok *steward.DelegatedToken) (azcore.TokenCredential, *arm.ClientOptions, *arm.Client, error) {
	if tok == nil || tok.Token == "" {
		return nil, nil, nil, steward.Errorf(steward.EUNAUTHORIZED, "There is no consent session; consent again.")
	}
	cred := &staticCredential{token: tok.Token.Reveal(), exp: tok.ExpiresAt}
	opts := c.armOptions(newBudget(c.log))
	client, err := arm.NewClient(moduleName, moduleVersion, cred, opts)
	if err != nil {
		return nil, nil, nil, steward.WrapError(steward.EINTERNAL, err, "Cannot build the Resource Manager client.")
	}
	return cred, opts, client, nil
}

// DelegatedSubscriptions lists the subscriptions the user can see, and
// whether the user may assign roles on each (Owner or User Access
// Administrator: the permissions allow roleAssignments/write). A
// subscription whose permissions cannot be read counts as not owned.
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) DelegatedSubscriptions(ctx context.Context, tok *steward.DelegatedToken) ([]*steward.AzureSubscription, map[string]bool, error) {
	cred, opts, client, err := c.delegated(tok)
	if err != nil {
		return nil, nil, err
	}
	subs, err := listSubscriptions(ctx, cred, opts)
	if err != nil {
		return nil, nil, err
	}
	owned := make(map[string]bool, len(subs))
	for _, s := range subs {
		perms, err := permissions(ctx, c, cred, opts, client, "/subscriptions/"+s.ID)
		switch code := steward.ErrorCode(err); {
		case err == nil:
			owned[s.ID] = perms.Allows(ownerAction)
		case code == steward.EFORBIDDEN || code == steward.ENOTFOUND:
			owned[s.ID] = false
		default:
			return nil, nil, err
		}
	}
	return subs, owned, nil
}

// DelegatedAssignRole assigns a built-in role (a GUID or a full role
// definition ID) to a service principal at a scope as the consenting user,
// and returns the assignment. An identical existing assignment (409
// RoleAssignmentExists) counts as success and is returned. EFORBIDDEN,
// EINVALID, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) DelegatedAssignRole(ctx context.Context, tok *steward.DelegatedToken, scope, roleDefinitionID, principalID string) (*steward.AzureRoleAssignment, error) {
	doing := "assigning a role at " + scope
	cred, opts, _, err := c.delegated(tok)
	if err != nil {
		return nil, err
	}
	sub := subscriptionOf(scope)
	if sub == "" {
		return nil, steward.Errorf(steward.EINVALID, "Steward assigns roles at subscription, resource group or resource scope; %q is none of them.", scope)
	}
	roleGUID := lastSegment(roleDefinitionID)
	fullRole := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID
	client, err := armauthorization.NewRoleAssignmentsClient(sub, cred, opts)
	if err != nil {
		return nil, azError(err, doing)
	}
	resp, err := client.Create(ctx, scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: to.Ptr(principalID), RoleDefinitionID: to.Ptr(fullRole),
			PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		},
	}, nil)
	if err == nil {
		if ra := assignment(&resp.RoleAssignment); ra != nil {
			return ra, nil
		}
		return nil, steward.Errorf(steward.EUNAVAILABLE, "Azure created the role assignment at %s but returned no ID.", scope)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || !strings.EqualFold(re.ErrorCode, "RoleAssignmentExists") {
		return nil, azError(err, doing)
	}
	existing, lerr := roleAssignments(ctx, cred, opts, scope, principalID)
	if lerr != nil {
		return nil, lerr
	}
	for _, ra := range existing {
		if strings.EqualFold(ra.RoleDefinitionID, roleGUID) && strings.EqualFold(strings.TrimSuffix(ra.Scope, "/"), strings.TrimSuffix(scope, "/")) {
			return ra, nil
		}
	}
	return nil, steward.WrapError(steward.ECONFLICT, err, "Azure says the role assignment at %s exists, but Steward cannot find it.", scope)
}

// DelegatedRemoveRole deletes a role assignment by its full ID as the
// consenting user. A missing assignment counts as removed. EFORBIDDEN,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) DelegatedRemoveRole(ctx context.Context, tok *steward.DelegatedToken, assignmentID string) error {
	doing := "removing role assignment " + assignmentID
	cred, opts, _, err := c.delegated(tok)
	if err != nil {
		return err
	}
	client, err := armauthorization.NewRoleAssignmentsClient(subscriptionOf(assignmentID), cred, opts)
	if err != nil {
		return azError(err, doing)
	}
	_, err = client.DeleteByID(ctx, assignmentID, nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil
		}
		return azError(err, doing)
	}
	return nil
}
