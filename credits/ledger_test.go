package credits

import (
	"bytes"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/renderswarm/renderswarm/internal/db"
	"github.com/renderswarm/renderswarm/job"
)

var t0 = time.Unix(1_795_000_000, 0)

// openLedger opens (creating) the database file and the ledger of self.
func openLedger(t testing.TB, file string, self peer.ID) (*Ledger, *sql.DB) {
	t.Helper()
	d, err := db.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := NewLedger(d, self)
	if err != nil {
		t.Fatal(err)
	}
	return l, d
}

type party struct {
	key crypto.PrivKey
	id  peer.ID
	l   *Ledger
}

func newParty(t *testing.T, b byte) party {
	k, id := key(t, b)
	l, _ := openLedger(t, filepath.Join(t.TempDir(), "node.db"), id)
	return party{k, id, l}
}

func mustIssue(t *testing.T, p party, v peer.ID, frame int, cu int64, at time.Time) SignedReceipt {
	t.Helper()
	s, err := p.l.Issue(at, p.key, v, testTask(frame), testResult("r"), cu)
	if err != nil {
		t.Fatalf("Issue frame %d: %v", frame, err)
	}
	return s
}

func mustVerify(t *testing.T, s SignedReceipt) Receipt {
	t.Helper()
	r, err := s.Verify()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLedgerRoundTrip(t *testing.T) {
	pub, vol := newParty(t, 1), newParty(t, 2)
	var issued []SignedReceipt
	for i, cu := range []int64{100, 200, 300} {
		s := mustIssue(t, pub, vol.id, i, cu, t0.Add(time.Duration(i)*time.Minute))
		issued = append(issued, s)
	}
	for i, want := range []struct{ seq, total int64 }{{1, 100}, {2, 300}, {3, 600}} {
		r := mustVerify(t, issued[i])
		if int64(r.Seq) != want.seq || r.Total != want.total || r.Issued != t0.Unix()+int64(60*i) {
			t.Fatalf("receipt %d: seq %d total %d issued %d", i, r.Seq, r.Total, r.Issued)
		}
	}
	pending, err := pub.l.PendingFor(vol.id)
	if err != nil || len(pending) != 3 {
		t.Fatalf("PendingFor = %d receipts, %v; want 3", len(pending), err)
	}
	for _, s := range pending {
		cs, err := vol.l.Accept(s, vol.key)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.l.RecordCountersigned(cs); err != nil {
			t.Fatal(err)
		}
		if err := pub.l.RecordCountersigned(cs); err != nil {
			t.Fatalf("recording twice: %v", err)
		}
	}
	if pending, _ := pub.l.PendingFor(vol.id); len(pending) != 0 {
		t.Fatalf("%d receipts still pending after countersigning", len(pending))
	}
	checkBalance(t, pub.l, Balance{Earned: 0, Spent: 600, Balance: -600})
	checkBalance(t, vol.l, Balance{Earned: 600, Spent: 0, Balance: 600})

	es, err := vol.l.Receipts(2)
	if err != nil || len(es) != 2 {
		t.Fatalf("Receipts(2) = %d entries, %v", len(es), err)
	}
	want := Entry{Role: RoleVolunteer, Counterpart: pub.id, Seq: 3, Task: testTask(2), Result: testResult("r"),
		CU: 300, Total: 600, Issued: t0.Add(2 * time.Minute).UTC(), Countersigned: true}
	if es[0] != want || es[1].Seq != 2 {
		t.Fatalf("Receipts(2)[0] = %+v\nwant %+v (newest first)", es[0], want)
	}
	es, _ = pub.l.Receipts(0)
	if len(es) != 3 || es[2].Role != RolePublisher || es[2].Counterpart != vol.id || es[2].Seq != 1 {
		t.Fatalf("publisher's Receipts(0) = %+v", es)
	}
}

// The publisher may crash after issuing: on restart the chain continues and
// nothing is issued twice; the volunteer's ledger keeps its chain too.
func TestLedgerSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	pubKey, pubID := key(t, 1)
	volKey, volID := key(t, 2)
	pubFile, volFile := filepath.Join(dir, "pub.db"), filepath.Join(dir, "vol.db")

	pl, pd := openLedger(t, pubFile, pubID)
	vl, vd := openLedger(t, volFile, volID)
	first := mustIssue(t, party{pubKey, pubID, pl}, volID, 1, 100, t0)
	mustIssue(t, party{pubKey, pubID, pl}, volID, 2, 50, t0)
	cs, err := vl.Accept(first, volKey)
	if err != nil {
		t.Fatal(err)
	}
	pd.Close()
	vd.Close()

	pl, _ = openLedger(t, pubFile, pubID)
	vl, _ = openLedger(t, volFile, volID)
	if _, err := pl.Issue(t0, pubKey, volID, testTask(2), testResult("again"), 50); !errors.Is(err, ErrAlreadyIssued) {
		t.Fatalf("re-issue after restart = %v, want ErrAlreadyIssued", err)
	}
	r := mustVerify(t, mustIssue(t, party{pubKey, pubID, pl}, volID, 3, 25, t0))
	if r.Seq != 3 || r.Total != 175 {
		t.Fatalf("after restart: seq %d total %d, want 3 and 175", r.Seq, r.Total)
	}
	if p, _ := pl.PendingFor(volID); len(p) != 3 {
		t.Fatalf("pending after restart = %d, want 3", len(p))
	}
	checkBalance(t, pl, Balance{Spent: 175, Balance: -175})
	checkBalance(t, vl, Balance{Earned: 100, Balance: 100})
	again, err := vl.Accept(first, volKey)
	if err != nil || string(again.Countersig) != string(cs.Countersig) {
		t.Fatalf("accepting a held receipt again after restart = %v", err)
	}
	if err := pl.RecordCountersigned(cs); err != nil {
		t.Fatal(err)
	}
	if p, _ := pl.PendingFor(volID); len(p) != 2 {
		t.Fatalf("pending after countersignature = %d, want 2", len(p))
	}
}

// Regression guard for the race the mutex closes: two goroutines issuing
// for one pair must never produce the same Seq, nor two receipts for a task.
func TestIssueConcurrent(t *testing.T) {
	pub := newParty(t, 1)
	_, vol := key(t, 2)
	const perWorker = 15
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []Receipt
		dupes int
	)
	for w := range 2 {
		wg.Go(func() {
			for i := range perWorker {
				// Both workers also race for the shared frames 1000+i.
				for _, f := range []int{w*perWorker + i, 1000 + i} {
					s, err := pub.l.Issue(t0, pub.key, vol, testTask(f), testResult("r"), 10)
					mu.Lock()
					switch {
					case errors.Is(err, ErrAlreadyIssued):
						dupes++
					case err != nil:
						t.Error(err)
					default:
						r, _ := s.Verify()
						got = append(got, r)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(got) != 3*perWorker || dupes != perWorker {
		t.Fatalf("%d receipts issued and %d refused, want %d and %d", len(got), dupes, 3*perWorker, perWorker)
	}
	slices.SortFunc(got, func(a, b Receipt) int { return int(a.Seq) - int(b.Seq) })
	for i, r := range got {
		if r.Seq != uint64(i+1) || r.Total != int64(10*(i+1)) {
			t.Fatalf("receipt %d has seq %d total %d", i, r.Seq, r.Total)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	pub := newParty(t, 1)
	otherKey, vol := key(t, 2)
	for _, tc := range []struct {
		name string
		key  crypto.PrivKey
		vol  peer.ID
		cu   int64
		want error
	}{
		{"another node's key", otherKey, vol, 1, ErrWrongKey},
		{"negative cu", pub.key, vol, -1, ErrInvalidReceipt},
		{"to itself", pub.key, pub.id, 1, ErrInvalidReceipt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pub.l.Issue(t0, tc.key, tc.vol, testTask(1), testResult("r"), tc.cu); !errors.Is(err, tc.want) {
				t.Fatalf("Issue = %v, want %v", err, tc.want)
			}
		})
	}
	if p, _ := pub.l.PendingFor(vol); len(p) != 0 {
		t.Fatalf("refused issues left %d receipts", len(p))
	}
}

// signAs builds a receipt of the pair (publisher key 1, volunteer) the way
// a publisher could, honest or not.
func signAs(t *testing.T, pubKey crypto.PrivKey, vol peer.ID, seq uint64, frame int, cu, total int64) SignedReceipt {
	t.Helper()
	pub, _ := peer.IDFromPrivateKey(pubKey)
	s, err := Receipt{Publisher: pub, Volunteer: vol, Seq: seq, Task: testTask(frame), Result: testResult("r"),
		CU: cu, Total: total, Issued: t0.Unix()}.Sign(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAcceptEnforcesChain(t *testing.T) {
	pubKey, _ := key(t, 1)
	_, stranger := key(t, 3)
	// The volunteer holds receipts 2 (total 300) and 4 (total 600): 1 and 3
	// were lost or are late.
	setup := func(t *testing.T) party {
		vol := newParty(t, 2)
		for _, s := range []SignedReceipt{signAs(t, pubKey, vol.id, 2, 2, 200, 300), signAs(t, pubKey, vol.id, 4, 4, 100, 600)} {
			if _, err := vol.l.Accept(s, vol.key); err != nil {
				t.Fatal(err)
			}
		}
		return vol
	}
	for _, tc := range []struct {
		name                string
		seq                 uint64
		frame               int
		cu, total           int64
		want                error
		earnedAfterAccepted int64
	}{
		{"late first receipt", 1, 1, 100, 100, nil, 600},
		{"late third receipt", 3, 3, 200, 500, nil, 600},
		{"gap after the last", 7, 7, 50, 900, nil, 900},
		{"contiguous with a wrong total", 5, 5, 50, 700, ErrChainConflict, 0},
		{"lower total for a higher seq", 6, 6, 10, 550, ErrChainConflict, 0},
		{"first receipt inconsistent with the next", 1, 1, 150, 150, ErrChainConflict, 0},
		{"middle receipt overstating", 3, 3, 400, 700, ErrChainConflict, 0},
		{"seq already held, other task", 2, 9, 200, 300, ErrChainConflict, 0},
		{"task already held, other seq", 5, 4, 100, 700, ErrChainConflict, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vol := setup(t)
			_, err := vol.l.Accept(signAs(t, pubKey, vol.id, tc.seq, tc.frame, tc.cu, tc.total), vol.key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Accept = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				checkBalance(t, vol.l, Balance{Earned: tc.earnedAfterAccepted, Balance: tc.earnedAfterAccepted})
			}
		})
	}
	t.Run("receipt for another volunteer", func(t *testing.T) {
		vol := setup(t)
		if _, err := vol.l.Accept(signAs(t, pubKey, stranger, 1, 1, 100, 100), vol.key); !errors.Is(err, ErrNotParty) {
			t.Fatalf("Accept = %v, want ErrNotParty", err)
		}
	})
}

func TestAcceptRejectsForgeries(t *testing.T) {
	pubKey, _ := key(t, 1)
	evilKey, _ := key(t, 3)
	vol := newParty(t, 2)
	honest := signAs(t, pubKey, vol.id, 1, 1, 100, 100)
	tampered := honest
	tampered.Receipt = []byte(string(honest.Receipt[:len(honest.Receipt)-1]) + " }")
	for _, tc := range []struct {
		name string
		s    SignedReceipt
		key  crypto.PrivKey
		want error
	}{
		{"signed by a stranger in the publisher's name", func() SignedReceipt {
			s := signAs(t, pubKey, vol.id, 1, 1, 100, 100)
			s.Signature, _ = evilKey.Sign(publisherMessage(s.Receipt))
			return s
		}(), vol.key, job.ErrBadSignature},
		{"cu raised after signing", func() SignedReceipt {
			s := signAs(t, pubKey, vol.id, 2, 1, 100, 200)
			forged := signAs(t, pubKey, vol.id, 2, 1, 200, 300)
			forged.Signature = s.Signature
			return forged
		}(), vol.key, job.ErrBadSignature},
		{"non-canonical bytes", tampered, vol.key, job.ErrNotCanonical},
		{"countersigning with another key", honest, evilKey, ErrWrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := vol.l.Accept(tc.s, tc.key); !errors.Is(err, tc.want) {
				t.Fatalf("Accept = %v, want %v", err, tc.want)
			}
		})
	}
	checkBalance(t, vol.l, Balance{})
}

func TestRecordCountersignedRefuses(t *testing.T) {
	pub, vol := newParty(t, 1), newParty(t, 2)
	evilKey, _ := key(t, 3)
	issued := mustIssue(t, pub, vol.id, 1, 100, t0)
	cs, err := vol.l.Accept(issued, vol.key)
	if err != nil {
		t.Fatal(err)
	}
	neverIssued, _ := signAs(t, pub.key, vol.id, 2, 2, 100, 200).Countersign(vol.key)
	equivocation, _ := signAs(t, pub.key, vol.id, 1, 9, 100, 100).Countersign(vol.key)
	byStranger := cs
	byStranger.Countersig, _ = evilKey.Sign(countersignMessage(cs.Receipt, cs.Signature))
	forged := SignedReceipt{Receipt: cs.Receipt} // the volunteer countersigns a signature the publisher never made
	forged.Signature, _ = evilKey.Sign(publisherMessage(cs.Receipt))
	forged.Countersig, _ = vol.key.Sign(countersignMessage(forged.Receipt, forged.Signature))
	for _, tc := range []struct {
		name string
		s    SignedReceipt
		want error
	}{
		{"not countersigned", issued, ErrNotCountersigned},
		{"never issued", neverIssued, ErrUnknownReceipt},
		{"different receipt with the same seq", equivocation, ErrChainConflict},
		{"countersigned by someone else", byStranger, job.ErrBadSignature},
		{"publisher signature forged", forged, job.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := pub.l.RecordCountersigned(tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("RecordCountersigned = %v, want %v", err, tc.want)
			}
		})
	}
	if p, _ := pub.l.PendingFor(vol.id); len(p) != 1 {
		t.Fatal("a refused countersignature was recorded")
	}
	if err := vol.l.RecordCountersigned(cs); !errors.Is(err, ErrNotParty) {
		t.Fatalf("volunteer recording its own countersignature = %v, want ErrNotParty", err)
	}
}

// RecordCountersignedAll records a volunteer's countersignatures in one
// transaction, each with its own outcome: good ones are recorded, a
// forged or unknown one is refused alone.
func TestRecordCountersignedAll(t *testing.T) {
	pub, vol := newParty(t, 1), newParty(t, 2)
	var good []SignedReceipt
	for i := range 3 {
		cs, err := vol.l.Accept(mustIssue(t, pub, vol.id, i, 100, t0.Add(time.Duration(i)*time.Minute)), vol.key)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, cs)
	}
	neverIssued, _ := signAs(t, pub.key, vol.id, 9, 9, 100, 900).Countersign(vol.key)
	errs := pub.l.RecordCountersignedAll([]SignedReceipt{good[0], neverIssued, good[1], good[2], good[0]})
	for i, want := range []error{nil, ErrUnknownReceipt, nil, nil, nil} {
		if !errors.Is(errs[i], want) {
			t.Errorf("receipt %d: %v, want %v", i, errs[i], want)
		}
	}
	if p, _ := pub.l.PendingFor(vol.id); len(p) != 0 {
		t.Fatalf("%d receipts still pending", len(p))
	}
}

// AcceptAll countersigns and stores a publisher's receipts in one
// transaction: the good ones in chain order, one for another volunteer and
// one whose chain goes back refused alone, a repeat answered with the copy
// held.
func TestAcceptAll(t *testing.T) {
	pub, vol := newParty(t, 1), newParty(t, 2)
	_, other := key(t, 3)
	var good []SignedReceipt
	for i := range 3 {
		good = append(good, mustIssue(t, pub, vol.id, i, 100, t0.Add(time.Duration(i)*time.Minute)))
	}
	forOther := mustIssue(t, pub, other, 5, 100, t0)
	goesBack := signAs(t, pub.key, vol.id, 4, 6, 100, 250) // total below receipt 3's
	out, errs := vol.l.AcceptAll(vol.key, good[0], forOther, good[1], good[2], goesBack, good[0])
	for i, want := range []error{nil, ErrNotParty, nil, nil, ErrChainConflict, nil} {
		if !errors.Is(errs[i], want) {
			t.Errorf("receipt %d: %v, want %v", i, errs[i], want)
		}
		if (want == nil) != out[i].Countersigned() {
			t.Errorf("receipt %d: countersigned %v with error %v", i, out[i].Countersigned(), errs[i])
		}
	}
	if !bytes.Equal(out[5].Countersig, out[0].Countersig) {
		t.Error("a repeat was not answered with the copy held")
	}
	if got := pub.l.RecordCountersignedAll([]SignedReceipt{out[0], out[2], out[3]}); got[0] != nil || got[1] != nil || got[2] != nil {
		t.Fatalf("the publisher refused the countersigned copies: %v", got)
	}
}

// IssueAll issues a pass's receipts in one transaction: chains continue
// across volunteers, a task already paid is skipped, and a bad payment
// issues none of them.
func TestIssueAll(t *testing.T) {
	pub := newParty(t, 1)
	_, a := key(t, 2)
	_, b := key(t, 3)
	if _, err := pub.l.Issue(t0, pub.key, a, testTask(1), testResult("r"), 5); err != nil {
		t.Fatal(err)
	}
	bad := []Payment{{a, testTask(7), testResult("r"), 1}, {b, testTask(7), testResult("r"), -1}}
	if _, err := pub.l.IssueAll(t0, pub.key, bad); !errors.Is(err, ErrInvalidReceipt) {
		t.Fatalf("IssueAll with a negative claim = %v, want ErrInvalidReceipt", err)
	}
	pays := []Payment{
		{a, testTask(1), testResult("r"), 5}, // paid before
		{a, testTask(2), testResult("r"), 10},
		{b, testTask(2), testResult("r"), 10},
		{a, testTask(3), testResult("r"), 20},
	}
	errs, err := pub.l.IssueAll(t0, pub.key, pays)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], ErrAlreadyIssued) || errs[1] != nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errs = %v; want only the first already issued", errs)
	}
	for _, c := range []struct {
		vol   peer.ID
		seqs  []uint64
		total int64
	}{{a, []uint64{1, 2, 3}, 35}, {b, []uint64{1}, 10}} {
		p, err := pub.l.PendingFor(c.vol)
		if err != nil || len(p) != len(c.seqs) {
			t.Fatalf("pending for %s: %d receipts, %v; want %d", c.vol, len(p), err, len(c.seqs))
		}
		for i, s := range p {
			r, _ := s.Verify()
			if r.Seq != c.seqs[i] {
				t.Errorf("receipt %d of %s has seq %d, want %d", i, c.vol, r.Seq, c.seqs[i])
			}
			if i == len(p)-1 && r.Total != c.total {
				t.Errorf("chain of %s totals %d, want %d", c.vol, r.Total, c.total)
			}
		}
	}
}
