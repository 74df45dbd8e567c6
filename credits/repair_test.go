package credits

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copyFile copies a database file (the publisher's backup).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A publisher whose database went back to an older copy issues receipt
// numbers again for other tasks: the volunteer's Accept conflicts, it sends
// back what it holds, the publisher adopts it and issues the displaced task
// after it. Both books then agree, nothing is counted twice, and the pair
// goes on.
func TestChainRepairedAfterThePublisherLostReceipts(t *testing.T) {
	dir := t.TempDir()
	pk, pid := key(t, 1)
	vol := newParty(t, 2)
	file := filepath.Join(dir, "pub.db")
	pub, pdb := openLedger(t, file, pid)
	accept := func(l *Ledger, frame int) SignedReceipt {
		t.Helper()
		s, err := l.Issue(t0, pk, vol.id, testTask(frame), testResult("r"), 1000*int64(frame))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := vol.l.Accept(s, vol.key)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.RecordCountersigned(cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	accept(pub, 1)
	pdb.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	copyFile(t, file, filepath.Join(dir, "backup.db"))
	accept(pub, 2) // seq 2: task 2, countersigned by the volunteer; then lost
	accept(pub, 3) // seq 3: task 3, lost too
	pdb.Close()
	copyFile(t, filepath.Join(dir, "backup.db"), file)
	os.Remove(file + "-wal")
	pub, _ = openLedger(t, file, pid)

	// The restored publisher credits task 4, then task 3 again.
	s2, err := pub.Issue(t0, pk, vol.id, testTask(4), testResult("r"), 4000)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := pub.Issue(t0, pk, vol.id, testTask(3), testResult("r"), 3000)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []SignedReceipt{s2, s3} {
		_, err := vol.l.Accept(s, vol.key)
		if !errors.Is(err, ErrChainConflict) {
			t.Fatalf("accepting a re-issued number: %v, want a chain conflict", err)
		}
		held, err := vol.l.Conflicting(mustVerify(t, s))
		if err != nil || len(held) == 0 {
			t.Fatalf("held copies: %d, %v", len(held), err)
		}
		for _, h := range held {
			if _, err := pub.Adopt(t0, pk, h); err != nil {
				t.Fatalf("adopting the volunteer's copy: %v", err)
			}
		}
	}
	// Whatever is still pending goes to the volunteer as usual.
	pending, err := pub.PendingFor(vol.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range pending {
		cs, err := vol.l.Accept(s, vol.key)
		if err != nil {
			t.Fatalf("after the repair, receipt %d: %v", mustVerify(t, s).Seq, err)
		}
		if err := pub.RecordCountersigned(cs); err != nil {
			t.Fatal(err)
		}
	}
	pb, _ := pub.Balance()
	vb, _ := vol.l.Balance()
	const want = 1000 + 2000 + 3000 + 4000 // tasks 1 to 4, each once
	if pb.Spent != want || vb.Earned != want {
		t.Fatalf("publisher spent %d, volunteer earned %d; want both %d", pb.Spent, vb.Earned, want)
	}
	if left, _ := pub.PendingFor(vol.id); len(left) != 0 {
		t.Fatalf("%d receipts still pending", len(left))
	}
	// And the chain goes on.
	s5, err := pub.Issue(t0, pk, vol.id, testTask(5), testResult("r"), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vol.l.Accept(s5, vol.key); err != nil {
		t.Fatalf("the next receipt: %v", err)
	}
}

// A volunteer caught once is back on probation: only results verified
// after its latest strike count.
func TestStrikeResetsStanding(t *testing.T) {
	pub := newParty(t, 1)
	_, vol := key(t, 2)
	for f := 1; f <= 5; f++ {
		mustIssue(t, pub, vol, f, 1000, t0)
	}
	st, err := pub.l.Standings()
	if err != nil || st[vol].Verified != 5 || st[vol].Jobs != 1 || !st[vol].LastStrike.IsZero() {
		t.Fatalf("standing %+v, %v; want 5 verified in 1 job", st[vol], err)
	}
	if err := pub.l.Strike(t0.Add(time.Minute), vol, testTask(6), Refuted); err != nil {
		t.Fatal(err)
	}
	mustIssue(t, pub, vol, 7, 1000, t0.Add(2*time.Minute))
	st, _ = pub.l.Standings()
	if st[vol].Verified != 1 || st[vol].LastStrike.IsZero() {
		t.Fatalf("after a strike: %+v; want only the one result since", st[vol])
	}
	if err := pub.l.Strike(t0, vol, testTask(6), "cheated"); err == nil {
		t.Fatal("an unknown strike was recorded")
	}
}
