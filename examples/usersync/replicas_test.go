package main

// Replicas as separate OS processes on one database: the test binary
// starts itself again as a usersync server (TestMain), so each replica is
// the real server, in its own process, with its own connection pool.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/clerktest"
)

func TestMain(m *testing.M) {
	if os.Getenv("USERSYNC_REPLICA") == "1" {
		runReplica()
		return
	}
	os.Exit(m.Run())
}

// runReplica is a replica process: the usersync server on a loopback port
// it prints ("listening <addr>"). With USERSYNC_HOLD set, a delivery
// about that object stops after its writes, before its commit, and says
// "held <id>": the crash test kills the process there.
func runReplica() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, store, err := setup(context.Background(), os.Getenv, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(2)
	}
	if hold := os.Getenv("USERSYNC_HOLD"); hold != "" {
		store.held = func(_ context.Context, id string) {
			if id == hold {
				fmt.Println("held " + id)
				select {} // until killed
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(2)
	}
	fmt.Println("listening " + ln.Addr().String())
	srv.Serve(ln)
}

// replica is a running replica process.
type replica struct {
	cmd   *exec.Cmd
	url   string
	lines chan string // the rest of its standard output
}

func startReplica(t *testing.T, db database, secret string, extraEnv ...string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "USERSYNC_REPLICA=1", "CLERK_JWT_ISSUER_DOMAIN=https://clerk.example.com",
		"CLERK_WEBHOOK_SIGNING_SECRET="+secret)
	cmd.Env = append(append(cmd.Env, db.env()...), extraEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := &replica{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	addr, ok := strings.CutPrefix(r.next(t), "listening ")
	require.True(t, ok, "the replica did not start")
	r.url = "http://" + addr + "/api/webhooks/clerk"
	return r
}

// next returns the replica's next line of output ("" once it exited).
func (r *replica) next(t *testing.T) string {
	t.Helper()
	return <-r.lines
}

// delivery is one signed webhook message; its svix-id stays the same in
// every retry.
type delivery struct {
	id, typ string
	data    map[string]any
}

func (d delivery) send(t *testing.T, client *http.Client, url, secret string) (int, error) {
	now := time.Now()
	body := clerktest.Envelope(t, d.typ, d.data, now)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = clerktest.SignWebhook(t, secret, d.id, now, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// history generates Clerk's events for users, organizations and
// memberships: creates, updates with rising updated_at, some deletions,
// and, for deleted users, a late update that must not bring them back.
// It returns the deliveries, the late ones apart, and the expected final
// state.
type expected struct {
	users       map[string]string // user id → first name; "" deleted
	orgs        map[string]string // org id → name; "" deleted
	memberships map[string]string // membership id → role; "" deleted
}

func history(rng *rand.Rand) (deliveries, late []delivery, want expected) {
	want = expected{users: map[string]string{}, orgs: map[string]string{}, memberships: map[string]string{}}
	seq := 0
	next := func(typ string, data map[string]any) delivery {
		seq++
		return delivery{id: fmt.Sprintf("msg_%04d", seq), typ: typ, data: data}
	}
	var userIDs, orgIDs []string
	deletedUsers, deletedOrgs := map[string]bool{}, map[string]bool{}
	for u := range 50 {
		id := fmt.Sprintf("user_%02d", u)
		userIDs = append(userIDs, id)
		versions := 2 + rng.IntN(4)
		for v := 1; v <= versions; v++ {
			typ := "user.updated"
			if v == 1 {
				typ = "user.created"
			}
			first := fmt.Sprintf("%s_v%d", id, v)
			deliveries = append(deliveries, next(typ, userData(id, first, id+"@example.com", int64(v))))
			want.users[id] = first
		}
		if u%4 == 3 {
			deliveries = append(deliveries, next("user.deleted", map[string]any{"object": "user", "id": id, "deleted": true}))
			late = append(late, next("user.updated", userData(id, "resurrected", id+"@example.com", 99)))
			want.users[id] = ""
			deletedUsers[id] = true
		}
	}
	for o := range 20 {
		id := fmt.Sprintf("org_%02d", o)
		orgIDs = append(orgIDs, id)
		versions := 1 + rng.IntN(3)
		for v := 1; v <= versions; v++ {
			typ := "organization.updated"
			if v == 1 {
				typ = "organization.created"
			}
			name := fmt.Sprintf("%s_v%d", id, v)
			deliveries = append(deliveries, next(typ, orgData(id, name, int64(v))))
			want.orgs[id] = name
		}
		if o%5 == 4 {
			deliveries = append(deliveries, next("organization.deleted", map[string]any{"object": "organization", "id": id, "deleted": true}))
			want.orgs[id] = ""
			deletedOrgs[id] = true
		}
	}
	for m := 0; len(deliveries)+len(late) < 500; m++ {
		id := fmt.Sprintf("orgmem_%03d", m)
		org, user := orgIDs[rng.IntN(len(orgIDs))], userIDs[rng.IntN(len(userIDs))]
		versions := 1 + rng.IntN(3)
		var role string
		for v := 1; v <= versions; v++ {
			typ := "organizationMembership.updated"
			if v == 1 {
				typ = "organizationMembership.created"
			}
			role = []string{"org:member", "org:admin", "org:billing"}[rng.IntN(3)]
			deliveries = append(deliveries, next(typ, membershipData(id, org, user, role, int64(v))))
		}
		switch {
		case m%6 == 5:
			deliveries = append(deliveries, next("organizationMembership.deleted", membershipData(id, org, user, role, int64(versions+1))))
			role = ""
		case deletedOrgs[org] || deletedUsers[user]:
			role = ""
		}
		want.memberships[id] = role
	}
	return deliveries, late, want
}

// TestReplicasApplyEachDeliveryOnce: two replica processes on one
// database receive 500 deliveries in a shuffled order; 30% of them are
// delivered twice, half of those to both replicas at the same moment, the
// other half again later (a retry). Every answer is 200, every delivery
// is applied exactly once (the activity table, which nothing deduplicates
// but the store), and the tables hold the newest version of every object:
// no lost update, and deleted users stay deleted after late updates.
func TestReplicasApplyEachDeliveryOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		secret := clerktest.NewWebhookSecret()
		store := db.open(t) // creates the schema before the replicas start
		replicas := []*replica{startReplica(t, db, secret), startReplica(t, db, secret)}
		rng := rand.New(rand.NewPCG(1, 2))
		deliveries, late, want := history(rng)
		require.Len(t, append(deliveries, late...), 500)

		// The plan: each step is one or two sends that start together.
		type send struct {
			d       delivery
			replica int
		}
		var steps [][]send
		rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		var retries [][]send
		for i, d := range deliveries {
			r := rng.IntN(2)
			step := []send{{d, r}}
			switch {
			case i%10 < 3 && i%2 == 0: // duplicated to both replicas at once
				step = append(step, send{d, 1 - r})
			case i%10 < 3: // duplicated later, as a retry
				retries = append(retries, []send{{d, rng.IntN(2)}})
			}
			steps = append(steps, step)
		}
		steps = append(steps, retries...)

		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		run := func(steps [][]send) {
			work := make(chan []send)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for step := range work {
						start := make(chan struct{})
						var both sync.WaitGroup
						for _, s := range step {
							both.Go(func() {
								<-start
								code, err := s.d.send(t, client, replicas[s.replica].url, secret)
								if assert.NoError(t, err) {
									assert.Equal(t, 200, code, "%s %s", s.d.id, s.d.typ)
								}
							})
						}
						close(start) // the sends of one step start together
						both.Wait()
					}
				})
			}
			for _, s := range steps {
				work <- s
			}
			close(work)
			wg.Wait()
		}
		run(steps)
		var lateSteps [][]send
		for _, d := range late {
			lateSteps = append(lateSteps, []send{{d, rng.IntN(2)}})
		}
		run(lateSteps) // after every deletion was acknowledged

		f := &fixture{t: t, store: store}
		assert.Equal(t, 500, f.count(`SELECT count(*) FROM activity`), "every delivery applied")
		assert.Equal(t, 0, f.count(`SELECT count(*) FROM (SELECT svix_id FROM activity GROUP BY svix_id HAVING count(*) > 1) AS twice`), "no delivery applied twice")
		assert.Equal(t, 500, f.count(`SELECT count(*) FROM clerkauth_webhook_deliveries`))
		for id, first := range want.users {
			u := f.user(id)
			if first == "" {
				assert.Nil(t, u, "%s was deleted", id)
				continue
			}
			if assert.NotNil(t, u, id) {
				assert.Equal(t, first, u.FirstName, "%s has its newest version", id)
			}
		}
		assertRows(t, store, `SELECT clerk_id, CASE WHEN deleted = 1 THEN '' ELSE name END FROM organizations`, want.orgs)
		assertRows(t, store, `SELECT clerk_id, CASE WHEN deleted = 1 THEN '' ELSE role END FROM memberships`, want.memberships)
	})
}

func assertRows(t *testing.T, s *Store, query string, want map[string]string) {
	t.Helper()
	rows, err := s.db.Query(query)
	require.NoError(t, err)
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		require.NoError(t, rows.Scan(&k, &v))
		got[k] = v
	}
	require.NoError(t, rows.Err())
	for k, v := range want {
		if v == "" && got[k] == "" {
			continue // deleted, or never written because its organization or user was gone first
		}
		assert.Equal(t, v, got[k], k)
	}
	assert.Subset(t, keys(want), keys(got), "no row for an object that was never sent")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReplicaKilledBetweenBeginAndCommit: a replica is killed (SIGKILL)
// while a delivery's writes are made and not yet committed. Nothing of it
// is visible; Svix's retry to the other replica, sent while the first
// still holds the delivery, applies it once the database has rolled the
// dead replica's transaction back.
func TestReplicaKilledBetweenBeginAndCommit(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		secret := clerktest.NewWebhookSecret()
		store := db.open(t)
		doomed := startReplica(t, db, secret, "USERSYNC_HOLD=user_crash")
		survivor := startReplica(t, db, secret)
		d := delivery{id: "msg_crash", typ: "user.created", data: userData("user_crash", "Ada", "ada@example.com", 1)}
		client := &http.Client{}

		go d.send(t, client, doomed.url, secret) // never answered
		require.Equal(t, "held user_crash", doomed.next(t), "the delivery reached the point between its writes and its commit")

		retried := make(chan int, 1)
		go func() {
			code, err := d.send(t, client, survivor.url, secret)
			assert.NoError(t, err)
			retried <- code
		}()
		f := &fixture{t: t, store: store}
		assert.Nil(t, f.user("user_crash"), "uncommitted writes are invisible")

		require.NoError(t, doomed.cmd.Process.Signal(os.Kill))
		doomed.cmd.Wait()
		require.Equal(t, 200, <-retried)
		assert.Equal(t, "Ada", f.user("user_crash").FirstName)
		assert.Equal(t, 1, f.count(`SELECT count(*) FROM activity WHERE svix_id = ?`, "msg_crash"), "applied once")
		assert.Equal(t, 1, f.count(`SELECT count(*) FROM user_emails WHERE clerk_id = ?`, "user_crash"))

		code, err := d.send(t, client, survivor.url, secret)
		require.NoError(t, err)
		assert.Equal(t, 200, code, "a later retry is acknowledged as done")
		assert.Equal(t, 1, f.count(`SELECT count(*) FROM activity`))
	})
}
