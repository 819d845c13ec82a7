package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward/emulator"
)

// consentRedirectURIs are registered on Steward's app in the emulator, so
// consent works against it with Steward on this machine: loopback URIs
// match on any port, as in Entra ID.
var consentRedirectURIs = []string{"https://127.0.0.1/tenants/connect/callback", "https://localhost/tenants/connect/callback"}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", v)
	}
	*l = append(*l, v)
	return nil
}

// runEmulator runs `steward emulator`: the Azure emulator alone, until ctx
// ends. It prints the base URL and where the connection file went, and with
// --state it saves its state on the way out so the next run resumes it.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("steward emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8444", "`HOST:PORT` to listen on (port 0 picks a free one)")
	estate := fs.String("estate", emulator.EstateSmall, "seeded estate: small, medium (≈100,000 resources), large (1,000,000) or ci (21 tenants, 100 subscriptions, 6,000 resources)")
	seed := fs.Int64("seed", 1, "seed for the estate; the same seed gives the same tenants, IDs and resources")
	connOut := fs.String("connection-out", "steward-emulator.json", "`FILE` to write the connection file to (URL, CA, tenants, secrets)")
	state := fs.String("state", "", "`FILE` to load state from and save it to on exit (created when missing)")
	noThrottle := fs.Bool("no-throttling", false, "turn off Azure Resource Manager throttling")
	latency := fs.Duration("latency", 0, "latency added to every ARM and Graph request, e.g. 50ms")
	verbose := fs.Bool("v", false, "log every request")
	var redirects stringList
	fs.Var(&redirects, "redirect-uri", "`URL` Steward's consent comes back to, registered on Steward's app besides "+strings.Join(consentRedirectURIs, " and ")+
		" (any port); give Steward's --public-url followed by /tenants/connect/callback when it is reached at another host. Repeatable")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: steward emulator [flags]

Runs the Azure emulator: Entra ID, Microsoft Graph and Azure Resource Manager
on one HTTPS address, with a seeded estate. Point Steward at it with
--cloud FILE, where FILE is the connection file written here. Stops on
Ctrl-C. Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "steward emulator: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := emulator.Config{
		Addr:         *addr,
		Estate:       *estate,
		Seed:         *seed,
		StatePath:    *state,
		Throttling:   emulator.Throttling{Disabled: *noThrottle},
		RedirectURIs: append(slices.Clone(consentRedirectURIs), redirects...),
		Faults:       emulator.Faults{Latency: *latency},
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	start := time.Now()
	e, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	defer e.Stop()
	path, err := filepath.Abs(*connOut)
	if err != nil {
		return fmt.Errorf("connection file path: %w", err)
	}
	if err := e.WriteConnectionFile(path); err != nil {
		return err
	}
	cf := e.Connection()
	fmt.Fprintf(stdout, "Azure emulator (%s estate, seed %d) ready in %s at %s\n", cf.Estate, cf.Seed, time.Since(start).Round(time.Millisecond), cf.URL)
	fmt.Fprintf(stdout, "Connection file: %s\n", path)
	fmt.Fprintf(stdout, "Consent returns to: %s\n", strings.Join(cfg.RedirectURIs, ", "))
	if *state != "" {
		fmt.Fprintf(stdout, "State file: %s (saved on exit)\n", *state)
	}
	<-ctx.Done()
	e.Stop()
	return nil
}
