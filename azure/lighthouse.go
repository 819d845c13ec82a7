package azure

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/stewardhq/steward"
)

// Microsoft.ManagedServices (Lighthouse) and Microsoft.ManagementPartner
// (Partner Admin Link) have no module on the proxy: thin-client calls.
const (
	managedServicesAPI   = "2022-10-01"
	managementPartnerAPI = "2018-02-01"
)

// Registrations lists the Lighthouse registration assignments on a
// subscription, each with its registration definition.
// EFORBIDDEN, ENOTFOUND, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) Registrations(ctx context.Context, id steward.AzureIdentity, subscriptionID string) ([]*steward.AzureRegistration, error) {
	doing := "listing the Lighthouse delegations of subscription " + subscriptionID
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	next := "/subscriptions/" + subscriptionID + "/providers/Microsoft.ManagedServices/registrationAssignments?" +
		query("api-version", managedServicesAPI, "$expandRegistrationDefinition", "true")
	var out []*steward.AzureRegistration
	for next != "" {
		var res struct {
			Value []struct {
				ID         string `json:"id"`
				Properties struct {
					RegistrationDefinitionID string `json:"registrationDefinitionId"`
					RegistrationDefinition   *struct {
						ID         string `json:"id"`
						Properties struct {
							RegistrationDefinitionName string                            `json:"registrationDefinitionName"`
							ManagedByTenantID          string                            `json:"managedByTenantId"`
							Authorizations             []steward.LighthouseAuthorization `json:"authorizations"`
						} `json:"properties"`
					} `json:"registrationDefinition"`
				} `json:"properties"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if _, err := c.armCall(ctx, ent.arm, http.MethodGet, next, nil, &res); err != nil {
			return nil, azError(err, doing)
		}
		for _, v := range res.Value {
			r := &steward.AzureRegistration{ID: v.ID, DefinitionID: v.Properties.RegistrationDefinitionID, Scope: scopeOfExtension(v.ID)}
			if d := v.Properties.RegistrationDefinition; d != nil {
				r.DefinitionID = cmp.Or(r.DefinitionID, d.ID)
				r.OfferName = d.Properties.RegistrationDefinitionName
				r.ManagedByTenantID = d.Properties.ManagedByTenantID
				r.Authorizations = d.Properties.Authorizations
			}
			out = append(out, r)
		}
		next = res.NextLink
	}
	return out, nil
}

// scopeOfExtension returns the scope an extension resource hangs off:
// "/subscriptions/s/providers/Microsoft.ManagedServices/…" → "/subscriptions/s".
func scopeOfExtension(armID string) string {
	i := strings.Index(strings.ToLower(armID), "/providers/microsoft.managedservices/")
	if i < 0 {
		return ""
	}
	return armID[:i]
}

// partnerJSON is Microsoft.ManagementPartner/partner.
type partnerJSON struct {
	Properties struct {
		PartnerID   string    `json:"partnerId"`
		PartnerName string    `json:"partnerName"`
		TenantID    string    `json:"tenantId"`
		ObjectID    string    `json:"objectId"`
		State       string    `json:"state"`
		UpdatedTime time.Time `json:"updatedTime"`
	} `json:"properties"`
}

func (p *partnerJSON) partner() *steward.AzurePartner {
	q := p.Properties
	return &steward.AzurePartner{PartnerID: q.PartnerID, PartnerName: q.PartnerName, TenantID: q.TenantID, ObjectID: q.ObjectID, State: q.State, UpdatedAt: q.UpdatedTime}
}

func partnerPath(partnerID string) string {
	p := "/providers/Microsoft.ManagementPartner/partners"
	if partnerID != "" {
		p += "/" + url.PathEscape(partnerID)
	}
	return p + "?" + query("api-version", managementPartnerAPI)
}

// PartnerGet returns the identity's Partner Admin Link. ENOTFOUND when it
// has none, EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) PartnerGet(ctx context.Context, id steward.AzureIdentity) (*steward.AzurePartner, error) {
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	var p partnerJSON
	if _, err := c.armCall(ctx, ent.arm, http.MethodGet, partnerPath(""), nil, &p); err != nil {
		return nil, azError(err, "reading the Partner Admin Link of client "+id.ClientID)
	}
	if p.Properties.PartnerID == "" {
		return nil, steward.Errorf(steward.ENOTFOUND, "Client %s has no Partner Admin Link.", id.ClientID)
	}
	return p.partner(), nil
}

// PartnerSet links the identity to an MPN ID: PUT creates the link, and
// when one exists already (409) PATCH changes it. EINVALID, EUNAUTHORIZED,
// EUNAVAILABLE.
func (c *Connector) PartnerSet(ctx context.Context, id steward.AzureIdentity, partnerID string) (*steward.AzurePartner, error) {
	doing := "linking client " + id.ClientID + " to partner ID " + partnerID
	if strings.TrimSpace(partnerID) == "" {
		return nil, steward.Errorf(steward.EINVALID, "A partner ID (MPN ID) is required.")
	}
	ent, err := c.identity(id)
	if err != nil {
		return nil, err
	}
	var p partnerJSON
	_, err = c.armCall(ctx, ent.arm, http.MethodPut, partnerPath(partnerID), nil, &p, http.StatusOK, http.StatusCreated)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
		_, err = c.armCall(ctx, ent.arm, http.MethodPatch, partnerPath(partnerID), nil, &p, http.StatusOK)
	}
	if err != nil {
		return nil, azError(err, doing)
	}
	return p.partner(), nil
}

// PartnerDelete removes the identity's link to partnerID. ENOTFOUND,
// EUNAUTHORIZED, EUNAVAILABLE.
func (c *Connector) PartnerDelete(ctx context.Context, id steward.AzureIdentity, partnerID string) error {
	ent, err := c.identity(id)
	if err != nil {
		return err
	}
	_, err = c.armCall(ctx, ent.arm, http.MethodDelete, partnerPath(partnerID), nil, nil, http.StatusOK, http.StatusNoContent)
	return azError(err, "removing the Partner Admin Link of client "+id.ClientID)
}
