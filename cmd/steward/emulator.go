package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/stewardhq/steward/emulator"
)

// runEmulator runs `steward emulator`: the Azure emulator alone, until ctx
// ends. It prints the base URL and where the connection file went, and with
// --state it saves its state on the way out so the next run resumes it.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("steward emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8444", "`HOST:PORT` to listen on (port 0 picks a free one)")
	estate := fs.String("estate", emulator.EstateSmall, "seeded estate: small, medium (≈100,000 resources) or large (1,000,000)")
	seed := fs.Int64("seed", 1, "seed for the estate; the same seed gives the same tenants, IDs and resources")
	connOut := fs.String("connection-out", "steward-emulator.json", "`FILE` to write the connection file to (URL, CA, tenants, secrets)")
	state := fs.String("state", "", "`FILE` to load state from and save it to on exit (created when missing)")
	noThrottle := fs.Bool("no-throttling", false, "turn off Azure Resource Manager throttling")
	latency := fs.Duration("latency", 0, "latency added to every ARM and Graph request, e.g. 50ms")
	verbose := fs.Bool("v", false, "log every request")
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
		Addr:       *addr,
		Estate:     *estate,
		Seed:       *seed,
		StatePath:  *state,
		Throttling: emulator.Throttling{Disabled: *noThrottle},
		Faults:     emulator.Faults{Latency: *latency},
		Logger:     slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
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
	if *state != "" {
		fmt.Fprintf(stdout, "State file: %s (saved on exit)\n", *state)
	}
	<-ctx.Done()
	e.Stop()
	return nil
}
