package credits

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ids returns n deterministic peer IDs, keys 10, 11, ….
func ids(t *testing.T, n int) []peer.ID {
	out := make([]peer.ID, n)
	for i := range out {
		_, out[i] = key(t, byte(10+i))
	}
	return out
}

// work is a receipt saying vol rendered total milli-CU for pub.
func work(vol, pub peer.ID, total int64) Receipt {
	return Receipt{Publisher: pub, Volunteer: vol, Seq: 1, Task: testTask(1), Result: testResult("r"),
		CU: total, Total: total, Issued: 1}
}

func TestPriority(t *testing.T) {
	p := ids(t, 12)
	e, honest, viaHonest, leech := p[0], p[1], p[2], p[3]
	sybils := p[4:9]
	stranger := p[11]
	receipts := []Receipt{
		work(honest, e, 10_000),        // honest rendered 10 CU for the evaluator
		work(viaHonest, honest, 4_000), // and was helped by viaHonest
		work(e, leech, 7_000),          // the evaluator rendered 7 CU for leech
		work(leech, e, 2_000),          // who gave back 2
	}
	// A clique of fake identities minting huge receipts for each other.
	for i, a := range sybils {
		for j, b := range sybils {
			if i != j {
				receipts = append(receipts, work(a, b, 1_000_000_000))
			}
		}
	}
	pr := Priority(e, receipts)
	for _, tc := range []struct {
		name     string
		id       peer.ID
		want     float64
		newcomer bool
	}{
		{"honest worker", honest, 10, false},
		{"worker for a worker", viaHonest, 4, false},
		{"consumer", leech, -5, false},
		{"sybil", sybils[0], 0, false},
		{"stranger", stranger, 0, true},
		{"evaluator", e, math.Inf(1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pr.Of(tc.id); got != tc.want {
				t.Fatalf("Of = %v, want %v", got, tc.want)
			}
			if got := pr.Newcomer(tc.id); got != tc.newcomer {
				t.Fatalf("Newcomer = %v, want %v", got, tc.newcomer)
			}
		})
	}
	want := []Score{{honest, 10}, {viaHonest, 4}, {leech, -5}}
	if got := pr.Ranked(); !slices.Equal(got, want) {
		t.Fatalf("Ranked = %v, want %v", got, want)
	}
}

// Fakes hanging off one real worker share its real work; they do not each
// get all of it, however large their receipts.
func TestPrioritySybilsShareTheirGateway(t *testing.T) {
	p := ids(t, 8)
	e, gateway, fakes := p[0], p[1], p[2:]
	receipts := []Receipt{work(gateway, e, 3_000)}
	for _, f := range fakes {
		receipts = append(receipts, work(f, gateway, 1_000_000_000))
	}
	pr := Priority(e, receipts)
	var sum float64
	for _, f := range fakes {
		sum += pr.Of(f)
	}
	if sum > 3 || sum < 2.99 {
		t.Fatalf("fakes behind a gateway that did 3 CU got %v CU together, want 3", sum)
	}
	if pr.Of(gateway) != 3 {
		t.Fatalf("gateway = %v, want 3", pr.Of(gateway))
	}
}

func TestPriorityConsumptionLowers(t *testing.T) {
	p := ids(t, 4)
	e, pub, mid := p[0], p[1], p[2]
	base := []Receipt{work(pub, e, 10_000)}
	before := Priority(e, base).Of(pub)
	direct := Priority(e, append(slices.Clone(base), work(e, pub, 4_000))).Of(pub)
	// The evaluator rendered for mid, who rendered for pub.
	indirect := Priority(e, append(slices.Clone(base), work(e, mid, 4_000), work(mid, pub, 1_000))).Of(pub)
	if before != 10 || direct != 6 || indirect != 9 {
		t.Fatalf("priority %v, after direct consumption %v, after indirect %v; want 10, 6, 9", before, direct, indirect)
	}
}

// Same receipts in any order, and a whole chain or only its latest receipt,
// give the same priorities; ties are broken by peer ID.
func TestPriorityDeterministic(t *testing.T) {
	p := ids(t, 6)
	e := p[0]
	var chain []Receipt
	for seq := int64(1); seq <= 4; seq++ {
		r := work(p[1], e, 1_000*seq)
		r.Seq, r.CU = uint64(seq), 1_000
		chain = append(chain, r)
	}
	receipts := append(slices.Clone(chain), work(p[2], e, 4_000), work(p[3], e, 4_000), work(p[4], p[2], 500), work(e, p[5], 100))
	want := Priority(e, receipts).Ranked()
	if len(want) != 5 || want[0].Priority != 4 || want[1].Priority != 4 || want[2].Priority != 4 {
		t.Fatalf("Ranked = %v", want)
	}
	if string(want[0].Peer) > string(want[1].Peer) || string(want[1].Peer) > string(want[2].Peer) {
		t.Fatalf("ties not in peer ID order: %v", want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(receipts)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := Priority(e, shuffled).Ranked(); !slices.Equal(got, want) {
			t.Fatalf("order-dependent: %v vs %v", got, want)
		}
	}
	latestOnly := append([]Receipt{chain[3]}, receipts[4:]...)
	if got := Priority(e, latestOnly).Ranked(); !slices.Equal(got, want) {
		t.Fatalf("latest receipt only: %v, whole chain: %v", got, want)
	}
}

// The ledger's receipts, including ones it was shown, feed Priority.
func TestLedgerPriority(t *testing.T) {
	e, worker, helper := newParty(t, 1), newParty(t, 2), newParty(t, 3)
	// worker rendered 5 CU for e; helper rendered 2 CU for worker, which e
	// was shown.
	s := mustIssue(t, e, worker.id, 1, 5_000, t0)
	help := mustIssue(t, worker, helper.id, 2, 2_000, t0)
	cs, err := helper.l.Accept(help, helper.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.l.Learn(help); err == nil {
		t.Fatal("Learn accepted a receipt without countersignature")
	}
	if err := e.l.Learn(cs); err != nil {
		t.Fatal(err)
	}
	if err := e.l.Learn(cs); err != nil {
		t.Fatalf("learning twice: %v", err)
	}
	own, _ := s.Countersign(worker.key)
	if err := e.l.Learn(own); err == nil {
		t.Fatal("Learn accepted a receipt naming the ledger's node")
	}
	pr, err := e.l.Priority()
	if err != nil {
		t.Fatal(err)
	}
	if pr.Of(worker.id) != 5 || pr.Of(helper.id) != 2 {
		t.Fatalf("worker %v, helper %v; want 5 and 2 (pending receipts the evaluator issued count)", pr.Of(worker.id), pr.Of(helper.id))
	}
	if b, _ := e.l.Balance(); b.Spent != 5_000 || b.Earned != 0 {
		t.Fatalf("learned receipts changed the balance: %+v", b)
	}
}
