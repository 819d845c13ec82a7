package steward

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a local portal user. Passwords are kept only as argon2id hashes.
type User struct {
	ID           int64
	Name         string // login name, unique case-insensitively
	DisplayName  string
	Email        string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  time.Time // zero when never signed in
	Grants       []Grant
}

var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ValidUserName reports whether name could be a user's login name. A name
// that could not is nobody's: a sign-in with it fails without a lookup.
func ValidUserName(name string) bool { return userNameRE.MatchString(name) }

// CheckText refuses what no name or label may hold: invalid UTF-8, and
// control characters, NUL among them. PostgreSQL stores neither (SQLite
// would, and the engines must agree), and nobody means to type them.
// field names the field in the message. EINVALID.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "%s is not valid UTF-8 text.", field)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return Errorf(EINVALID, "%s must not contain control characters (such as NUL, tabs or line breaks).", field)
	}
	return nil
}

// Validate checks the fields a person types in.
func (u *User) Validate() error {
	if !ValidUserName(u.Name) {
		return Errorf(EINVALID, "User name must be 1 to 64 letters, digits or . _ @ - and start with a letter or digit.")
	}
	if err := CheckText("Display name", u.DisplayName); err != nil {
		return err
	}
	if len(u.DisplayName) > 200 {
		return Errorf(EINVALID, "Display name must be at most 200 characters.")
	}
	if err := CheckText("Email address", u.Email); err != nil {
		return err
	}
	if u.Email != "" && (len(u.Email) > 254 || !strings.Contains(u.Email, "@")) {
		return Errorf(EINVALID, "Email address is not valid.")
	}
	if u.PasswordHash == "" {
		return Errorf(EINVALID, "User has no password.")
	}
	for _, g := range u.Grants {
		if err := g.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// UserUpdate holds the fields UserUpdate may change; nil leaves a field alone.
type UserUpdate struct {
	DisplayName  *string
	Email        *string
	PasswordHash *string
	Disabled     *bool
}

// UserStore keeps users and their grants. Every change carries the audit
// event that records it and is written in the same transaction.
type UserStore interface {
	// UserCreate stores u with its grants and sets u.ID. EINVALID, ECONFLICT
	// when the name is taken.
	UserCreate(ctx context.Context, u *User, ev *AuditEvent) error
	// UserGet returns a user with its grants. ENOTFOUND.
	UserGet(ctx context.Context, id int64) (*User, error)
	// UserGetByName finds a user by name, case-insensitively. ENOTFOUND.
	UserGetByName(ctx context.Context, name string) (*User, error)
	// UserList returns all users with their grants, by name.
	UserList(ctx context.Context) ([]*User, error)
	// UserUpdate changes the given fields. A new password ends the user's
	// sessions and revokes their API tokens, in the same transaction (the
	// event says how many tokens); disabling ends the sessions. ENOTFOUND,
	// EINVALID, ECONFLICT when it would disable the last enabled admin.
	UserUpdate(ctx context.Context, id int64, upd UserUpdate, ev *AuditEvent) (*User, error)
	// UserRehashPassword replaces a password hash made with old parameters
	// by one of the same password made with the current ones, when the
	// stored hash is still oldHash. It is not a new password: sessions and
	// tokens stay, and nothing is audited.
	UserRehashPassword(ctx context.Context, id int64, oldHash, newHash string) error
	// UserDelete removes a user, its grants, sessions and tokens. ENOTFOUND,
	// ECONFLICT when it is the last enabled admin.
	UserDelete(ctx context.Context, id int64, ev *AuditEvent) error
	// UserRecordLogin notes a successful sign-in. ENOTFOUND.
	UserRecordLogin(ctx context.Context, id int64, ev *AuditEvent) error
	// UserCount returns how many users exist, to decide on bootstrapping.
	UserCount(ctx context.Context) (int, error)

	// GrantCreate adds a grant to a user and sets g.ID. EINVALID, ENOTFOUND
	// (user), ECONFLICT (the same grant exists).
	GrantCreate(ctx context.Context, g *Grant, ev *AuditEvent) error
	// GrantGet returns one grant. ENOTFOUND.
	GrantGet(ctx context.Context, id int64) (*Grant, error)
	// GrantDelete removes a grant. ENOTFOUND, ECONFLICT when it is the last
	// admin grant of an enabled user.
	GrantDelete(ctx context.Context, id int64, ev *AuditEvent) (*Grant, error)
}

// Role is a portal role. A user holds roles through grants.
type Role string

// The portal roles, from most to least powerful.
const (
	RoleAdmin     Role = "admin"      // everything, including users and grants
	RoleOperator  Role = "operator"   // connects tenants and runs syncs; edits tags
	RoleTagEditor Role = "tag-editor" // edits tags
	RoleViewer    Role = "viewer"     // reads inventory and spend
	RoleAuditor   Role = "auditor"    // reads inventory, the audit log and security reviews
)

// Roles lists every portal role in display order.
var Roles = []Role{RoleAdmin, RoleOperator, RoleTagEditor, RoleViewer, RoleAuditor}

// Permission is one thing a role lets a user do.
type Permission string

// Permissions checked by the web layer, per route and per tenant.
const (
	PermInventoryRead Permission = "inventory.read" // tenants, subscriptions, resources, sync runs, costs
	PermTagsWrite     Permission = "tags.write"     // tag edits
	PermTenantsManage Permission = "tenants.manage" // connections, credentials, sync levels, syncs, write access
	PermAuditRead     Permission = "audit.read"     // audit log, security reviews
	PermUsersManage   Permission = "users.manage"   // users, grants and other people's tokens
)

var rolePermissions = map[Role][]Permission{
	RoleAdmin:     {PermInventoryRead, PermTagsWrite, PermTenantsManage, PermAuditRead, PermUsersManage},
	RoleOperator:  {PermInventoryRead, PermTagsWrite, PermTenantsManage},
	RoleTagEditor: {PermInventoryRead, PermTagsWrite},
	RoleViewer:    {PermInventoryRead},
	RoleAuditor:   {PermInventoryRead, PermAuditRead},
}

// Permissions returns what the role lets a user do.
func (r Role) Permissions() []Permission { return slices.Clone(rolePermissions[r]) }

// Valid reports whether r is one of the portal roles.
func (r Role) Valid() bool { _, ok := rolePermissions[r]; return ok }

// Has reports whether the role includes the permission.
func (r Role) Has(p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// Grant gives a user a role on all tenants (Tenants empty) or on the listed
// Azure tenant IDs only.
type Grant struct {
	ID        int64
	UserID    int64
	Role      Role
	Tenants   []string // lower-case tenant GUIDs; empty means all tenants
	CreatedAt time.Time
	CreatedBy string
}

// AllTenants reports whether the grant is not limited to listed tenants.
func (g *Grant) AllTenants() bool { return len(g.Tenants) == 0 }

// Label describes the grant for people and audit events: "operator on all
// tenants", "viewer on TENANT, TENANT".
func (g *Grant) Label() string {
	if g.AllTenants() {
		return string(g.Role) + " on all tenants"
	}
	return string(g.Role) + " on " + strings.Join(g.Tenants, ", ")
}

// Validate checks the role and the tenant list, and normalises tenant IDs.
func (g *Grant) Validate() error {
	if !g.Role.Valid() {
		return Errorf(EINVALID, "Unknown role %q; roles are admin, operator, tag-editor, viewer and auditor.", g.Role)
	}
	if g.Role == RoleAdmin && len(g.Tenants) > 0 {
		return Errorf(EINVALID, "The admin role manages users and cannot be limited to tenants.")
	}
	for i, t := range g.Tenants {
		if !IsGUID(t) {
			return Errorf(EINVALID, "Tenant %q is not a tenant ID (a GUID).", t)
		}
		g.Tenants[i] = strings.ToLower(t)
	}
	slices.Sort(g.Tenants)
	g.Tenants = slices.Compact(g.Tenants)
	return nil
}

var guidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// IsGUID reports whether s is a GUID such as an Azure tenant or subscription ID.
func IsGUID(s string) bool { return guidRE.MatchString(s) }
