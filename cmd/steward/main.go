// Command steward is the Steward portal and its tools: the server, a demo
// with an Azure emulator, migrations, users, API tokens, the audit log
// check, and Lighthouse templates.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Steward keeps Azure tenants' inventory, tags and spend, writes tag edits
back to Azure, and keeps credentials and delegations under control.

Usage: steward COMMAND [flags]

Commands:
  demo        try Steward on a fresh data directory, with a printed sign-in
  serve       run the portal
  migrate     apply database migrations
  user        create and manage local users
  token       create, list and revoke API tokens
  audit       verify the audit log's hash chain
  keys        rotate the keys that encrypt stored secrets
  lighthouse  build and check Azure Lighthouse delegation templates
  emulator    run the Azure emulator (Azure in a box) for tests and demos
  version     print the version

Run 'steward COMMAND -h' for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run dispatches a command and turns its error into an exit status: 0 ok,
// 1 failure, 2 usage.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, env, stdout, stderr)
	case "demo":
		err = runDemo(ctx, rest, env, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, env, stdout, stderr)
	case "user":
		err = runUser(ctx, rest, env, stdin, stdout, stderr)
	case "token":
		err = runToken(ctx, rest, env, stdout, stderr)
	case "audit":
		err = runAudit(ctx, rest, env, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, env, stdout, stderr)
	case "lighthouse":
		return runLighthouse(ctx, rest, stdout, stderr)
	case "emulator":
		err = runEmulator(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "steward", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "steward: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(stderr, "steward:", ee.msg)
		}
		return ee.code
	case errors.As(err, new(usageError)):
		return 2 // the flag package has printed what is wrong
	default:
		fmt.Fprintln(stderr, "steward:", err)
		return 1
	}
}

// usageError marks a mistake in the command line.
type usageError struct{ error }
