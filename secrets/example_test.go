package secrets_test

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"sort"

	"github.com/stewardhq/steward/secrets"
)

// Example shows `steward keys rotate` end to end, with a map standing in
// for the credentials table: rotate the key file, re-wrap every stored
// secret, then retire the old version once nothing uses it.
func Example() {
	dir, err := os.MkdirTemp("", "steward")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)

	// The server seals secrets, binding each to its row.
	server, err := secrets.NewKeyring(secrets.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	rows := map[string][]byte{}
	for _, row := range []string{"credential:1", "credential:2"} {
		if rows[row], err = server.Seal([]byte("secret of "+row), []byte(row)); err != nil {
			log.Fatal(err)
		}
	}

	// `steward keys rotate`, in another process: load, rotate, re-wrap.
	cli, err := secrets.NewKeyring(secrets.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	newVersion, err := cli.Rotate()
	if err != nil {
		log.Fatal(err)
	}
	for row, sealed := range rows {
		if v, _ := cli.KeyVersion(sealed); v == newVersion {
			continue
		}
		if rows[row], err = cli.Rewrap(sealed, []byte(row)); err != nil {
			log.Fatal(err) // a damaged secret: report it and carry on
		}
	}

	// `steward keys retire 1`: refuse while any row still uses version 1.
	inUse := false
	for _, sealed := range rows {
		if v, _ := cli.KeyVersion(sealed); v == 1 {
			inUse = true
		}
	}
	if !inUse {
		if err := cli.Remove(1); err != nil {
			log.Fatal(err)
		}
	}

	// The server, on SIGHUP or its periodic Reload, follows.
	if err := server.Reload(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("versions", server.Versions(), "current", server.Current())
	var names []string
	for row := range rows {
		names = append(names, row)
	}
	sort.Strings(names)
	for _, row := range names {
		pt, err := server.Open(rows[row], []byte(row))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", row, pt)
	}
	// Output:
	// versions [2] current 2
	// credential:1: secret of credential:1
	// credential:2: secret of credential:2
}
