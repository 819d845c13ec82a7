package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// settings resolves each option from, in rising order of precedence, its
// default, a config file, the environment (STEWARD_*), and a flag. The
// config file has the environment's form, one STEWARD_NAME=value a line, so
// the same lines work in a file, in a systemd EnvironmentFile and in a shell.
type settings struct {
	fs   *flag.FlagSet
	file map[string]string
	env  func(string) string
}

// newSettings reads the config file named by --config (or STEWARD_CONFIG)
// before the flags are defined, so its values can become their defaults.
func newSettings(name string, args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	s := &settings{fs: flag.NewFlagSet(name, flag.ContinueOnError), env: getenv, file: map[string]string{}}
	s.fs.SetOutput(stderr)
	path := getenv("STEWARD_CONFIG")
	for i, a := range args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "config="); ok && strings.HasPrefix(a, "-") {
			path = v
		} else if (a == "--config" || a == "-config") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	s.fs.String("config", path, "read settings from this file of STEWARD_NAME=value lines (env: STEWARD_CONFIG)")
	if path != "" {
		if err := s.readFile(path); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *settings) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading the config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		if !ok || !strings.HasPrefix(k, "STEWARD_") {
			return fmt.Errorf("%s line %d: want STEWARD_NAME=value", path, n)
		}
		s.file[k] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return sc.Err()
}

// lookup returns the value from the environment or the file, or def.
func (s *settings) lookup(env, def string) string {
	if v := s.env(env); v != "" {
		return v
	}
	if v, ok := s.file[env]; ok {
		return v
	}
	return def
}

func (s *settings) String(p *string, name, env, def, usage string) {
	s.fs.StringVar(p, name, s.lookup(env, def), usage+" (env: "+env+")")
}

func (s *settings) Bool(p *bool, name, env string, def bool, usage string) error {
	v, err := strconv.ParseBool(s.lookup(env, strconv.FormatBool(def)))
	if err != nil {
		return fmt.Errorf("%s: want true or false", env)
	}
	s.fs.BoolVar(p, name, v, usage+" (env: "+env+")")
	return nil
}

func (s *settings) Duration(p *time.Duration, name, env string, def time.Duration, usage string) error {
	v, err := time.ParseDuration(s.lookup(env, def.String()))
	if err != nil {
		return fmt.Errorf("%s: want a duration such as 12h", env)
	}
	s.fs.DurationVar(p, name, v, usage+" (env: "+env+")")
	return nil
}

// secret reads a secret from NAME or from the file named by NAME_FILE, so
// it need not sit in the environment of every process.
func (s *settings) secret(env string) (string, error) {
	if path := s.lookup(env+"_FILE", ""); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading %s_FILE: %w", env, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return s.lookup(env, ""), nil
}

// parse parses the flags; -h prints usage and returns flag.ErrHelp, and a
// bad flag (already reported by the flag package) is a usageError.
func (s *settings) parse(args []string) error {
	err := s.fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}
