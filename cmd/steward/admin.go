package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store"
)

// dbFlags are the flags every command that opens the database takes.
type dbFlags struct {
	data, database string
}

func (d *dbFlags) define(s *settings) {
	s.String(&d.data, "data", "STEWARD_DATA", "./steward-data", "the data directory (SQLite database) `DIR`")
	s.String(&d.database, "database", "STEWARD_DATABASE", "", "a PostgreSQL `URL` instead of SQLite")
}

// open opens and migrates the database for a one-off command, logging only
// warnings to stderr.
func (d *dbFlags) open(ctx context.Context, stderr io.Writer) (*store.DB, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := openStore(ctx, d.data, d.database, log)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// cliActor names the person at the terminal in audit events.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func cliEvent(action, target string) *steward.AuditEvent {
	return &steward.AuditEvent{Actor: cliActor(), Action: action, Target: target, Outcome: steward.OutcomeSuccess}
}

func runMigrate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, err := newSettings("steward migrate", args, env, stderr)
	if err != nil {
		return err
	}
	var d dbFlags
	d.define(s)
	if err := s.parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := openStore(ctx, d.data, d.database, log)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	jc := jobs.Config{Sessions: db, Logger: log}
	if db.Engine() == store.Postgres {
		jc.Postgres = db.Pool()
	} else {
		jc.SQLite = db.WriteDB()
	}
	r, err := jobs.New(jc)
	if err != nil {
		return err
	}
	jn, err := r.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Applied %d Steward and %d job-queue migrations on %s; the schema is current.\n", n, jn, db.Engine())
	return nil
}

const userUsage = `Usage:
  steward user create --name NAME --role ROLE [--tenants IDS] [--password-stdin]
  steward user list
  steward user set-password --name NAME [--password-stdin]

Without --password-stdin a password is generated and printed once.
Roles: admin, operator, tag-editor, viewer, auditor.
`

func runUser(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, userUsage)
		return usageError{fmt.Errorf("no subcommand")}
	}
	sub, args := args[0], args[1:]
	s, err := newSettings("steward user "+sub, args, env, stderr)
	if err != nil {
		return err
	}
	var d dbFlags
	d.define(s)
	var name, role, tenants string
	var fromStdin bool
	if sub == "create" || sub == "set-password" {
		s.fs.StringVar(&name, "name", "", "the user's login `NAME`")
		s.fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if sub == "create" {
		s.fs.StringVar(&role, "role", "viewer", "the user's `ROLE`")
		s.fs.StringVar(&tenants, "tenants", "", "comma-separated tenant `IDS` to limit the role to (not for admin)")
	}
	if err := s.parse(args); err != nil {
		return err
	}
	hasher := auth.Hasher{Params: auth.DefaultParams}
	password := func() (string, bool, error) {
		if !fromStdin {
			return auth.GeneratePassword(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", false, fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		return pw, false, hasher.Validate(pw)
	}
	switch sub {
	case "create":
		if name == "" {
			return usageError{fmt.Errorf("--name is required")}
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		hash, err := hasher.Hash(pw)
		if err != nil {
			return err
		}
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		g := steward.Grant{Role: steward.Role(role), CreatedBy: cliActor()}
		if tenants != "" {
			g.Tenants = strings.Split(tenants, ",")
		}
		u := &steward.User{Name: name, PasswordHash: hash, Grants: []steward.Grant{g}}
		if err := db.UserCreate(ctx, u, cliEvent("user.create", name).With("grants", role)); err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "Created user %s with role %s.\n", name, role)
		if generated {
			fmt.Fprintf(stdout, "Password (shown once): %s\n", pw)
		}
	case "set-password":
		if name == "" {
			return usageError{fmt.Errorf("--name is required")}
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		hash, err := hasher.Hash(pw)
		if err != nil {
			return err
		}
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		u, err := db.UserGetByName(ctx, name)
		if err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		if _, err := db.UserUpdate(ctx, u.ID, steward.UserUpdate{PasswordHash: &hash}, cliEvent("user.update", name).With("changed", "password")); err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "Password of %s set; their sessions were ended.\n", name)
		if generated {
			fmt.Fprintf(stdout, "Password (shown once): %s\n", pw)
		}
	case "list":
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		users, err := db.UserList(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tROLES\tLAST SIGN-IN")
		for _, u := range users {
			var roles []string
			for _, g := range u.Grants {
				roles = append(roles, grantText(g))
			}
			status := "enabled"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Name, status, strings.Join(roles, "; "), formatTime(u.LastLoginAt))
		}
		tw.Flush()
	default:
		fmt.Fprint(stderr, userUsage)
		return usageError{fmt.Errorf("unknown subcommand %q", sub)}
	}
	return nil
}

func grantText(g steward.Grant) string {
	if g.AllTenants() {
		return string(g.Role)
	}
	return string(g.Role) + " on " + strings.Join(g.Tenants, ",")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

const tokenUsage = `Usage:
  steward token create --user NAME [--name LABEL] [--expires 720h]
  steward token list [--user NAME]
  steward token revoke ID

The token is printed once; Steward stores only its hash.
`

func runToken(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, tokenUsage)
		return usageError{fmt.Errorf("no subcommand")}
	}
	sub, args := args[0], args[1:]
	s, err := newSettings("steward token "+sub, args, env, stderr)
	if err != nil {
		return err
	}
	var d dbFlags
	d.define(s)
	var userName, label string
	var expires time.Duration
	if sub == "create" || sub == "list" {
		s.fs.StringVar(&userName, "user", "", "the `NAME` of the user the token acts as")
	}
	if sub == "create" {
		s.fs.StringVar(&label, "name", "cli", "a `LABEL` to tell the token apart")
		s.fs.DurationVar(&expires, "expires", 30*24*time.Hour, "how long the token lasts, at most 17520h (0: never)")
	}
	if err := s.parse(args); err != nil {
		return err
	}
	switch sub {
	case "create":
		if userName == "" {
			return usageError{fmt.Errorf("--user is required")}
		}
		if expires < 0 || expires > 2*365*24*time.Hour {
			return usageError{fmt.Errorf("--expires must be between 0 and 17520h")}
		}
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		u, err := db.UserGetByName(ctx, userName)
		if err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		token, hash := steward.NewToken(steward.TokenPrefix)
		t := &steward.APIToken{UserID: u.ID, Name: label, Prefix: token[:len(steward.TokenPrefix)+6], Hash: hash}
		if expires > 0 {
			t.ExpiresAt = time.Now().Add(expires)
		}
		ev := cliEvent("token.create", label).With("user", u.Name).With("prefix", t.Prefix)
		if err := db.TokenCreate(ctx, t, ev); err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "Token %d for %s, expires %s. It is shown this once.\n", t.ID, u.Name, formatTime(t.ExpiresAt))
	case "list":
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		var uid int64
		if userName != "" {
			u, err := db.UserGetByName(ctx, userName)
			if err != nil {
				return fmt.Errorf("%s", steward.ErrorMessage(err))
			}
			uid = u.ID
		}
		tokens, err := db.TokenList(ctx, uid)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tPREFIX\tEXPIRES\tLAST USED\tSTATUS")
		for _, t := range tokens {
			status := "active"
			if !t.RevokedAt.IsZero() {
				status = "revoked"
			} else if !t.Active(time.Now()) {
				status = "expired"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.UserName, t.Name, t.Prefix, formatTime(t.ExpiresAt), formatTime(t.LastUsedAt), status)
		}
		tw.Flush()
	case "revoke":
		if s.fs.NArg() != 1 {
			return usageError{fmt.Errorf("give the ID of the token to revoke")}
		}
		var id int64
		if _, err := fmt.Sscan(s.fs.Arg(0), &id); err != nil {
			return usageError{fmt.Errorf("%q is not a token ID", s.fs.Arg(0))}
		}
		db, err := d.open(ctx, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		t, err := db.TokenGet(ctx, id)
		if err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		if err := db.TokenRevoke(ctx, id, cliEvent("token.revoke", t.Name).With("owner", t.UserName).With("prefix", t.Prefix)); err != nil {
			return fmt.Errorf("%s", steward.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "Revoked token %d (%s of %s).\n", id, t.Name, t.UserName)
	default:
		fmt.Fprint(stderr, tokenUsage)
		return usageError{fmt.Errorf("unknown subcommand %q", sub)}
	}
	return nil
}

func runAudit(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, "Usage: steward audit verify [--data DIR] [--database URL]\n\nChecks the audit log's hash chain. Exit status 0: intact; 1: broken\n(the first bad event is named); 2: the log could not be read.\n")
		return usageError{fmt.Errorf("no subcommand")}
	}
	args = args[1:]
	s, err := newSettings("steward audit verify", args, env, stderr)
	if err != nil {
		return err
	}
	var d dbFlags
	d.define(s)
	if err := s.parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := openStore(ctx, d.data, d.database, log)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	defer db.Close()
	v, err := db.AuditVerify(ctx)
	if err != nil {
		return &exitError{code: 2, msg: "cannot read the audit log: " + err.Error()}
	}
	if !v.OK() {
		fmt.Fprintf(stdout, "BROKEN at event %d: %s.\n%d events before it are intact.\n", v.BadID, v.Problem, v.Checked)
		return &exitError{code: 1}
	}
	fmt.Fprintf(stdout, "OK: %d events, chain intact.\nHead: event %d, hash %s\n", v.Checked, v.HeadID, v.HeadHash)
	return nil
}
