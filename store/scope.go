package store

import "github.com/stewardhq/steward"

// scopeCond limits a query to the scope's tenants: it returns the condition
// on column ("" when the scope reaches every tenant) and none when the scope
// reaches no tenant, so the query need not run. Every read made on someone's
// behalf goes through it, so an empty scope sees nothing.
func (a *args) scopeCond(sc steward.Scope, column string) (cond string, none bool) {
	if sc.All() {
		return "", false
	}
	tenants := sc.Tenants()
	if len(tenants) == 0 {
		return "", true
	}
	return column + ` IN (` + a.addLower(tenants) + `)`, false
}

// notFoundOutside answers for an object outside the caller's scope exactly
// as for one that does not exist, so a scope cannot probe other tenants.
func notFoundOutside(sc steward.Scope, tenantID, what string) error {
	if sc.Allows(tenantID) {
		return nil
	}
	return steward.Errorf(steward.ENOTFOUND, "%s not found.", what)
}
