package emulator

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"net/http"
	"strings"
)

// registerPartB plugs in the services beyond the core: Resource Graph,
// Cost Management, Partner Admin Link and Lighthouse (Microsoft.ManagedServices).
func (e *Emulator) registerPartB() {
	e.stateHooks = append(e.stateHooks, e.partBStateHook())
	e.registerARM(armExtension{
		Namespace: "Microsoft.ResourceGraph", Type: "resources", APIVersions: resourceGraphVersions,
		Kind: readKind, SkipThrottle: true, Serve: (*armCall).serveResourceGraph,
	})
	e.registerARM(armExtension{
		Namespace: "Microsoft.CostManagement", Type: "query", APIVersions: costQueryVersions,
		Kind: readKind, SkipThrottle: true, Serve: (*armCall).serveCostQuery,
	})
	e.registerARM(armExtension{Namespace: "Microsoft.ManagementPartner", Type: "partners", APIVersions: palVersions, Serve: (*armCall).servePartners})
	for _, kind := range []string{"registrationDefinitions", "registrationAssignments"} {
		e.registerARM(armExtension{Namespace: "Microsoft.ManagedServices", Type: kind, APIVersions: managedServicesVersions,
			Serve: func(c *armCall) { c.serveManagedServices(kind) }})
	}
}

// readKind classifies a request as a read whatever its method: the query
// POSTs of Resource Graph and Cost Management write nothing.
func readKind(*http.Request) opKind { return opRead }

// partBState is what part B adds to the state file: partner links and
// Lighthouse registrations (the managing tenants they add are saved with
// the subscriptions already).
type partBState struct {
	Partners   []*partnerLink
	Lighthouse map[string]*lhSub
}

func (e *Emulator) partBStateHook() stateHook {
	return stateHook{
		name: "partb",
		save: func() ([]byte, error) {
			st := partBState{Lighthouse: e.w.lighthouse}
			for _, l := range e.w.partners {
				st.Partners = append(st.Partners, l)
			}
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
				return nil, fmt.Errorf("encoding part B state: %w", err)
			}
			return buf.Bytes(), nil
		},
		load: func(b []byte) error {
			var st partBState
			if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
				return fmt.Errorf("decoding part B state: %w", err)
			}
			for _, l := range st.Partners {
				e.w.partners[strings.ToLower(l.TenantID+"/"+l.ObjectID)] = l
			}
			for id, ls := range st.Lighthouse {
				if ls != nil && e.w.subs[id] != nil {
					e.w.lighthouse[id] = ls
				}
			}
			return nil
		},
	}
}
