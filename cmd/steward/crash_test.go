//go:build crash

// The crash tests kill `steward serve` with SIGKILL and wait out the
// write-back or sync lease (2 minutes, not configurable in serve), so they
// run only with -tags crash:
//
//	go test -tags crash -run TestSIGKILL -v ./cmd/steward

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/store"
)

// crashProc is a steward subprocess with its output kept in files.
type crashProc struct {
	name string
	cmd  *exec.Cmd
	out  *crashOutput
	done chan struct{}
}

type crashOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *crashOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *crashOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail is the end of a process's output, for failure messages.
func (p *crashProc) tail() string {
	s := p.out.String()
	if len(s) > 6000 {
		s = "…" + s[len(s)-6000:]
	}
	return s
}

// crashStart runs the steward binary with env (and no other STEWARD_ variables).
func crashStart(t *testing.T, name, bin string, env []string, args ...string) *crashProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STEWARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &crashProc{name: name, cmd: cmd, out: &crashOutput{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.tail())
		}
	})
	return p
}

// waitOutput waits until the process has printed a line containing want,
// and returns the rest of that line.
func (p *crashProc) waitOutput(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), want); ok {
				return strings.TrimSpace(rest)
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q:\n%s", p.name, want, p.tail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q in %v:\n%s", p.name, want, timeout, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func crashFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// crashAPI calls Steward's JSON API with a bearer token.
type crashAPI struct {
	base, token string
	c           *http.Client
}

func (a *crashAPI) do(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type crashEdit struct {
	ID        int64  `json:"id"`
	Status    string `json:"status"`
	Items     int    `json:"items"`
	Applied   int    `json:"applied"`
	Failed    int    `json:"failed"`
	Conflicts int    `json:"conflicts"`
}

// crashEnv is Azure in a box and Steward, each in its own process, with
// Contoso connected: its Reader reads, its Tag Contributor writes.
type crashEnv struct {
	data     string
	readerID steward.AzureIdentity
	az       *azure.Connector
	sub      string // Contoso's first subscription
	first    *crashProc
	serve    func(name string) *crashProc // starts serve on the same data and address
	api      *crashAPI
}

type crashRun struct {
	ID          int64      `json:"id"`
	Status      string     `json:"status"`
	Error       string     `json:"error"`
	Seen        int        `json:"seen"`
	HeartbeatAt *time.Time `json:"heartbeatAt"`
}

// syncRuns lists the runs of the first subscription, newest first.
func (e *crashEnv) syncRuns(t *testing.T) []crashRun {
	t.Helper()
	var runs struct {
		Items []crashRun `json:"items"`
	}
	e.api.do(t, "GET", "/api/v1/subscriptions/"+e.sub+"/sync-runs", nil, &runs)
	return runs.Items
}

// crashSetup builds steward and starts the emulator, with latency added to
// every request, and serve, and connects Contoso.
func crashSetup(t *testing.T, latency string) *crashEnv {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "steward")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	connFile := filepath.Join(dir, "emulator.json")
	emu := crashStart(t, "emulator", bin, nil, "emulator", "--addr", "127.0.0.1:0", "--connection-out", connFile, "--no-throttling", "--latency", latency)
	emu.waitOutput(t, "Connection file:", 60*time.Second)
	cf, err := steward.ReadConnectionFile(connFile)
	if err != nil {
		t.Fatal(err)
	}
	contoso, ok := cf.Tenant(emulator.ContosoTenantName)
	if !ok {
		t.Fatal("no Contoso in the emulator")
	}
	principal := func(name string) steward.ConnectionPrincipal {
		for _, p := range contoso.ServicePrincipals {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no service principal %s", name)
		return steward.ConnectionPrincipal{}
	}
	reader, tagger := principal(emulator.ContosoReaderApp), principal(emulator.ContosoTaggerApp)
	e := &crashEnv{data: filepath.Join(dir, "data"), sub: strings.ToLower(contoso.Subscriptions[0]),
		readerID: steward.AzureIdentity{TenantID: contoso.ID, ClientID: reader.ClientID, Secret: steward.Secret(reader.ClientSecret)}}
	if e.az, err = azure.New(azure.Config{Cloud: connFile}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.az.Close)

	addr := crashFreeAddr(t)
	serveEnv := []string{"STEWARD_ADMIN_PASSWORD=crash test admin password", "STEWARD_LOG_FORMAT=text"}
	e.serve = func(name string) *crashProc {
		p := crashStart(t, name, bin, serveEnv, "serve", "--data", e.data, "--cloud", connFile, "--addr", addr)
		p.waitOutput(t, "Steward is running at", 60*time.Second)
		return p
	}
	e.first = e.serve("serve (first)")
	out, err := exec.Command(bin, "token", "create", "--data", e.data, "--user", "admin", "--name", "crash", "--expires", "1h").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	e.api = &crashAPI{base: "https://" + addr, token: strings.TrimSpace(string(out)), c: c}

	expires := time.Now().AddDate(1, 0, 0).Format(time.RFC3339)
	e.api.do(t, "POST", "/api/v1/tenants", map[string]any{
		"tenantId": contoso.ID, "name": "Contoso",
		"read":  map[string]string{"clientId": reader.ClientID, "clientSecret": reader.ClientSecret, "expiresAt": expires},
		"write": map[string]string{"clientId": tagger.ClientID, "clientSecret": tagger.ClientSecret, "expiresAt": expires},
	}, nil)
	return e
}

// TestSIGKILLDuringSync kills `steward serve` with SIGKILL while it syncs a
// subscription, restarts it, and checks that the run left "running" keeps
// the subscription only until two minutes after its last heartbeat: then
// Sync now starts a run that takes its place and succeeds, and the dead
// run says what happened.
func TestSIGKILLDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 2-minute sync lease")
	}
	// Half a second per request keeps a sync running for seconds.
	env := crashSetup(t, "500ms")
	crashWaitFor(t, "the first sync of "+env.sub, 90*time.Second, func() bool {
		runs := env.syncRuns(t)
		return len(runs) > 0 && runs[0].Status == string(steward.SyncSucceeded)
	})
	var dead crashRun
	env.api.do(t, "POST", "/api/v1/subscriptions/"+env.sub+"/sync", nil, &dead)
	crashWaitFor(t, "the sync running", 30*time.Second, func() bool {
		runs := env.syncRuns(t)
		if runs[0].ID != dead.ID || runs[0].Status == string(steward.SyncQueued) {
			return false
		}
		if runs[0].Status != string(steward.SyncRunning) {
			t.Fatalf("the sync is %+v; the test needs it running", runs[0])
		}
		return true
	})
	syscall.Kill(env.first.cmd.Process.Pid, syscall.SIGKILL)
	<-env.first.done

	env.serve("serve (restarted)")
	runs := env.syncRuns(t)
	if runs[0].ID != dead.ID || runs[0].Status != string(steward.SyncRunning) || runs[0].HeartbeatAt == nil {
		t.Fatalf("after the restart the newest run is %+v; want run %d, running, with its last heartbeat", runs[0], dead.ID)
	}
	last := *runs[0].HeartbeatAt
	var now crashRun
	env.api.do(t, "POST", "/api/v1/subscriptions/"+env.sub+"/sync", nil, &now)
	if now.ID != dead.ID {
		t.Fatalf("Sync now within the lease started run %d; want run %d, still the subscription's", now.ID, dead.ID)
	}

	time.Sleep(time.Until(last.Add(2*time.Minute + 2*time.Second)))
	env.api.do(t, "POST", "/api/v1/subscriptions/"+env.sub+"/sync", nil, &now)
	if now.ID == dead.ID {
		t.Fatalf("Sync now two minutes after the last heartbeat answered with the dead run %+v", now)
	}
	crashWaitFor(t, "the new run to succeed", 90*time.Second, func() bool {
		runs := env.syncRuns(t)
		return runs[0].ID == now.ID && runs[0].Status == string(steward.SyncSucceeded)
	})
	for _, r := range env.syncRuns(t) {
		if r.ID == dead.ID && (r.Status != string(steward.SyncCanceled) || !strings.HasPrefix(r.Error, "Steward stopped during this sync")) {
			t.Fatalf("the dead run: %+v", r)
		}
	}
	t.Logf("run %d, left running by the killed process, was taken over by run %d", dead.ID, now.ID)
}

// TestSIGKILLWithWriteBacksPending kills `steward serve` with SIGKILL in
// the middle of a bulk tag edit, at a moment when a tag PATCH has landed in
// Azure but Steward has not yet marked its item applied; restarts it on
// the same data directory; and checks that every item is applied exactly
// once: no lost and no repeated tag write, counted in Azure's activity log.
func TestSIGKILLWithWriteBacksPending(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 2-minute write-back lease")
	}
	ctx := t.Context()
	// Latency on every request makes an item's read and PATCH take long
	// enough to be caught in flight.
	env := crashSetup(t, "40ms")
	a, sub, data, readerID, az, first, serve := env.api, env.sub, env.data, env.readerID, env.az, env.first, env.serve
	crashWaitFor(t, "the first sync of "+sub, 90*time.Second, func() bool {
		runs := env.syncRuns(t)
		return len(runs) > 0 && runs[0].Status == string(steward.SyncSucceeded)
	})

	// Steward's database, read beside the process (WAL), and Azure's
	// activity log: the two sides of each write.
	db, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(data, "steward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	since := time.Now().Add(-2 * time.Second)
	writes := func() map[string]int {
		t.Helper()
		acts, err := az.Activity(ctx, readerID, sub, since)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, x := range acts {
			if strings.EqualFold(x.Operation, "Microsoft.Resources/tags/write") {
				n[strings.TrimSuffix(strings.ToLower(x.ResourceID), "/providers/microsoft.resources/tags/default")]++
			}
		}
		return n
	}

	var edit crashEdit
	a.do(t, "POST", "/api/v1/tag-edits", map[string]any{
		"filter": map[string]any{"subscription": sub}, "skipRefused": true, "merge": map[string]string{"crash-test": "1"},
	}, &edit)
	if edit.Items < 20 {
		t.Fatalf("the edit has %d items; the test needs many: %+v", edit.Items, edit)
	}
	items := func() []*steward.TagEditItem {
		t.Helper()
		all, err := db.TagEditItems(ctx, steward.SystemActor.Scope(steward.PermInventoryRead), edit.ID, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	appliedIn := func(all []*steward.TagEditItem) map[string]bool {
		m := map[string]bool{}
		for _, it := range all {
			if it.Status == steward.EditApplied {
				m[strings.ToLower(it.ResourceID)] = true
			}
		}
		return m
	}

	// Freeze serve now and then (SIGSTOP keeps its connections open, so a
	// request in flight still reaches the emulator) until a tag write has
	// landed in Azure that Steward has not marked applied; then kill it.
	crashWaitFor(t, "the first items applied", 60*time.Second, func() bool { return len(appliedIn(items())) >= 3 })
	pid := first.cmd.Process.Pid
	var landedUnmarked []string
	var appliedAtKill int
	for attempt := 1; ; attempt++ {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // in-flight requests land (latency 40 ms)
		applied := appliedIn(items())
		landedUnmarked = landedUnmarked[:0]
		for id := range writes() {
			if !applied[id] {
				landedUnmarked = append(landedUnmarked, id)
			}
		}
		appliedAtKill = len(applied)
		if len(landedUnmarked) > 0 || attempt >= 40 || appliedAtKill >= edit.Items-3 {
			syscall.Kill(pid, syscall.SIGKILL)
			<-first.done
			t.Logf("SIGKILL after %d freezes: %d of %d items applied, %d written but not marked: %v", attempt, appliedAtKill, edit.Items, len(landedUnmarked), landedUnmarked)
			break
		}
		syscall.Kill(pid, syscall.SIGCONT)
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
	}
	if appliedAtKill >= edit.Items {
		t.Fatal("every item was applied before the kill: the test proves nothing")
	}
	if len(landedUnmarked) == 0 {
		t.Error("no write was caught between landing in Azure and being marked applied; the crash proves less than it should")
	}

	// Restart on the same data directory and wait for the edit to finish:
	// the items claimed by the dead process come back once their lease
	// (2 minutes from the claim) has passed.
	killedAt := time.Now()
	serve("serve (restarted)")
	var final crashEdit
	deadline := time.Now().Add(3*time.Minute + 30*time.Second)
	for {
		a.do(t, "GET", fmt.Sprintf("/api/v1/tag-edits/%d", edit.ID), nil, &final)
		if final.Status == string(steward.EditDone) || final.Applied+final.Failed+final.Conflicts == final.Items {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the kill the edit is still %s: %d of %d applied, %d failed, %d conflicts\nitems not applied:\n%s\nwrite-back jobs:\n%s",
				time.Since(killedAt).Round(time.Second), final.Status, final.Applied, final.Items, final.Failed, final.Conflicts,
				crashDescribeItems(items()), crashDescribeJobs(t, db))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("edit done %v after the kill", time.Since(killedAt).Round(time.Second))

	// Every item applied, each with exactly one tag write in Azure, and
	// Azure holds the tag on each.
	all := items()
	if final.Applied != final.Items || final.Failed != 0 || final.Conflicts != 0 || len(all) != final.Items {
		t.Errorf("edit after restart: %+v\n%s", final, crashDescribeItems(all))
	}
	n := writes()
	want := map[string]bool{}
	for _, it := range all {
		id := strings.ToLower(it.ResourceID)
		want[id] = true
		if n[id] != 1 {
			t.Errorf("%s: %d tag writes in Azure's activity log, want exactly 1 (item %s, %d attempts)", it.ResourceID, n[id], it.Status, it.Attempts)
		}
		tags, err := az.TagsGet(ctx, readerID, it.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		if tags["crash-test"] != "1" {
			t.Errorf("%s in Azure: %v", it.ResourceID, tags)
		}
	}
	for id, k := range n {
		if !want[id] {
			t.Errorf("%s is not in the edit but was written %d times", id, k)
		}
	}
	// The writes caught between Azure and Steward were recognised on the
	// retry as already done.
	evs, _, err := db.AuditList(ctx, steward.SystemActor.Scope(steward.PermAuditRead), steward.AuditFilter{Action: "tags.write", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range landedUnmarked {
		found := false
		for _, ev := range evs {
			if strings.EqualFold(ev.Target, id) && ev.Details["note"] == "already in Azure" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: written before the crash, yet no write event notes it was already in Azure", id)
		}
	}
}

func crashWaitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func crashDescribeItems(all []*steward.TagEditItem) string {
	var b strings.Builder
	for _, it := range all {
		if it.Status != steward.EditApplied {
			fmt.Fprintf(&b, "  item %d %s: %s, %d attempts, next attempt %s, error %q\n", it.ID, it.ResourceID, it.Status, it.Attempts, it.NextAttemptAt.Format(time.RFC3339), it.LastError)
		}
	}
	return b.String()
}

// crashDescribeJobs lists River's write-back jobs, read straight from its table.
func crashDescribeJobs(t *testing.T, db *store.DB) string {
	rows, err := db.WriteDB().QueryContext(context.Background(), `SELECT id, state, attempt, COALESCE(attempted_by, '') FROM river_job WHERE kind = 'write_back' ORDER BY id`)
	if err != nil {
		return "(cannot read river_job: " + err.Error() + ")"
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, attempt int64
		var state, by string
		if err := rows.Scan(&id, &state, &attempt, &by); err != nil {
			return "(cannot read river_job: " + err.Error() + ")"
		}
		lines = append(lines, fmt.Sprintf("  job %d: %s, attempt %d, attempted by %s", id, state, attempt, by))
	}
	slices.Sort(lines)
	if rows, err := db.WriteDB().QueryContext(context.Background(), `SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`); err == nil {
		defer rows.Close()
		for rows.Next() {
			var kind, state string
			var n int
			if rows.Scan(&kind, &state, &n) == nil {
				lines = append(lines, fmt.Sprintf("  (all jobs: %s %s ×%d)", kind, state, n))
			}
		}
	}
	return strings.Join(lines, "\n")
}
