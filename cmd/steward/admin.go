package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/accounts"
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

// openAccounts opens the database and the account service over it, and
// returns a context in which the person at the terminal acts.
func (d *dbFlags) openAccounts(ctx context.Context, stderr io.Writer) (context.Context, *accounts.Service, func(), error) {
	db, err := d.open(ctx, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := accounts.New(accounts.Config{Store: db, Passwords: auth.Hasher{Params: auth.DefaultParams},
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return steward.NewContextWithActor(ctx, steward.CommandActor(cliActor())), svc, func() { db.Close() }, nil
}

// badUsage is a mistake in a command's arguments that the flag package
// did not catch: it is printed, and the exit status is 2.
func badUsage(msg string) error { return &exitError{code: 2, msg: msg} }

// safeError is what a command prints for a service's error: its safe
// message, or "Internal error." with the cause.
func safeError(err error) error {
	if steward.ErrorCode(err) == steward.EINTERNAL {
		return err
	}
	return errors.New(steward.ErrorMessage(err))
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
	r, err := jobs.New(jobs.Config{DB: db.WriteDB(), Postgres: db.Pool(), Sessions: db, Logger: log})
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
Setting a password ends the user's sessions and revokes their API tokens.
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
	password := func() (string, bool, error) {
		if !fromStdin {
			return auth.GeneratePassword(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", false, fmt.Errorf("reading the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	switch sub {
	case "create", "set-password":
		if name == "" {
			return badUsage("--name is required")
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		ctx, svc, closeDB, err := d.openAccounts(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		if sub == "create" {
			g := steward.Grant{Role: steward.Role(role)}
			if tenants != "" {
				g.Tenants = strings.Split(tenants, ",")
			}
			if _, err := svc.CreateUser(ctx, steward.UserInput{Name: name, Password: pw, Grants: []steward.Grant{g}}); err != nil {
				return safeError(err)
			}
			fmt.Fprintf(stdout, "Created user %s with role %s.\n", name, role)
		} else {
			u, err := svc.UserByName(ctx, name)
			if err != nil {
				return safeError(err)
			}
			if _, err := svc.UpdateUser(ctx, u.ID, steward.UserChange{Password: &pw}); err != nil {
				return safeError(err)
			}
			fmt.Fprintf(stdout, "Password of %s set; their sessions were ended and their API tokens revoked.\n", u.Name)
		}
		if generated {
			fmt.Fprintf(stdout, "Password (shown once): %s\n", pw)
		}
	case "list":
		ctx, svc, closeDB, err := d.openAccounts(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		users, err := svc.Users(ctx)
		if err != nil {
			return safeError(err)
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
  steward token create --user NAME [--name LABEL] [--expires 30d]
  steward token list [--user NAME]
  steward token revoke ID

The token is printed once; Steward stores only its hash. Every token
expires, at most 730 days (two years) after it is made.
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
	var userName, label, expires string
	if sub == "create" || sub == "list" {
		s.fs.StringVar(&userName, "user", "", "the `NAME` of the user the token acts as")
	}
	if sub == "create" {
		s.fs.StringVar(&label, "name", "cli", "a `LABEL` to tell the token apart")
		s.fs.StringVar(&expires, "expires", "30d", "how long the token lasts, in days (30d) or hours (720h); at most 730d")
	}
	if err := s.parse(args); err != nil {
		return err
	}
	switch sub {
	case "create":
		if userName == "" {
			return badUsage("--user is required")
		}
		lifetime, err := steward.ParseTokenLifetime(expires)
		if err != nil {
			return badUsage("--expires: " + steward.ErrorMessage(err))
		}
		ctx, svc, closeDB, err := d.openAccounts(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		u, err := svc.UserByName(ctx, userName)
		if err != nil {
			return safeError(err)
		}
		t, token, err := svc.CreateToken(ctx, steward.TokenInput{UserID: u.ID, Name: label, Lifetime: lifetime})
		if err != nil {
			return safeError(err)
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "Token %d for %s, expires %s. It is shown this once.\n", t.ID, u.Name, formatTime(t.Expiry()))
	case "list":
		ctx, svc, closeDB, err := d.openAccounts(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		f := steward.TokenFilter{All: true}
		if userName != "" {
			u, err := svc.UserByName(ctx, userName)
			if err != nil {
				return safeError(err)
			}
			f = steward.TokenFilter{UserID: u.ID}
		}
		tokens, err := svc.Tokens(ctx, f)
		if err != nil {
			return safeError(err)
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
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.UserName, t.Name, t.Prefix, formatTime(t.Expiry()), formatTime(t.LastUsedAt), status)
		}
		tw.Flush()
	case "revoke":
		if s.fs.NArg() != 1 {
			return badUsage("give the ID of the token to revoke")
		}
		var id int64
		if _, err := fmt.Sscan(s.fs.Arg(0), &id); err != nil {
			return badUsage(fmt.Sprintf("%q is not a token ID", s.fs.Arg(0)))
		}
		ctx, svc, closeDB, err := d.openAccounts(ctx, stderr)
		if err != nil {
			return err
		}
		defer closeDB()
		t, err := svc.RevokeToken(ctx, id)
		if err != nil {
			return safeError(err)
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
