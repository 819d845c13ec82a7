package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/stewardhq/steward/emulator"
)

// runDemo is `steward demo`: the portal on a fresh SQLite data directory,
// ready to sign in to.
func runDemo(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, err := newSettings("steward demo", args, env, stderr)
	if err != nil {
		return err
	}
	var c Config
	s.fs.StringVar(&c.Addr, "addr", "127.0.0.1:8443", "listen on HOST:PORT")
	s.fs.StringVar(&c.DataDir, "data", "", "keep the demo's data in `DIR` (default: a temporary directory, deleted on exit)")
	s.fs.StringVar(&c.LogLevel, "log-level", "warn", "debug, info, warn or error")
	estate := s.fs.String("estate", emulator.EstateSmall, "the emulator's seeded estate: small, medium (≈100,000 resources) or large (1,000,000)")
	s.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: steward demo [flags]\n\nStarts Steward on a fresh SQLite database and prints where to sign in.\nSet STEWARD_ADMIN_PASSWORD to choose the admin's password.\n\nFlags:\n")
		s.fs.PrintDefaults()
	}
	if err := s.parse(args); err != nil {
		return err
	}
	if c.AdminPassword, err = s.secret("STEWARD_ADMIN_PASSWORD"); err != nil {
		return err
	}
	temporary := c.DataDir == ""
	if temporary {
		if c.DataDir, err = os.MkdirTemp("", "steward-demo-"); err != nil {
			return fmt.Errorf("creating a data directory: %w", err)
		}
		defer os.RemoveAll(c.DataDir)
	}
	c.LogFormat = "text"
	log, err := newLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	// Azure in a box: the emulator in this process, its connection file in
	// the data directory, and Steward pointed at it.
	emu, err := emulator.New(emulator.Config{Estate: *estate, Logger: log,
		RedirectURIs: consentRedirectURIs})
	if err != nil {
		return err
	}
	if err := emu.Start(ctx); err != nil {
		return err
	}
	defer emu.Stop()
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	c.Cloud = filepath.Join(c.DataDir, "emulator.json")
	if err := emu.WriteConnectionFile(c.Cloud); err != nil {
		return err
	}
	c.Keys.DataDir = c.DataDir
	m := &Main{Config: c, Stdout: stdout, Log: log}
	defer m.Close()
	if err := m.Run(ctx); err != nil {
		return err
	}
	where := c.DataDir
	if temporary {
		where += " (deleted when the demo stops)"
	}
	fmt.Fprintf(stdout, "Steward demo is ready: %s\n", m.Server.URL())
	fmt.Fprintf(stdout, "  Sign in as admin (the password is printed above, or is STEWARD_ADMIN_PASSWORD).\n")
	fmt.Fprintf(stdout, "  The certificate is self-signed, so your browser will ask you to accept it.\n")
	cf := emu.Connection()
	fmt.Fprintf(stdout, "  Azure emulator (%s estate): %s, connection file %s\n", cf.Estate, cf.URL, c.Cloud)
	if t, ok := cf.Tenant(emulator.ContosoTenantName); ok && len(t.Users) > 0 {
		fmt.Fprintf(stdout, "  Connect a tenant, then sign in to Azure as %s with password %s (an emulator test user).\n", t.Users[0].UserPrincipalName, t.Users[0].Password)
	}
	fmt.Fprintf(stdout, "  Data: %s\n  Press Ctrl-C to stop.\n", where)
	<-ctx.Done()
	return m.Close()
}
