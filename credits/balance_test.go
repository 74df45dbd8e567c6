package credits

import "testing"

func checkBalance(t *testing.T, l *Ledger, want Balance) {
	t.Helper()
	got, err := l.Balance()
	if err != nil || got != want {
		t.Fatalf("Balance = %+v, %v; want %+v", got, err, want)
	}
}

// A node that both publishes and renders sums, per counterpart, the Total
// of the latest receipt it holds: several volunteers and publishers, one
// chain with a receipt lost on the way (a later one covers it).
func TestBalanceOverManyCounterparts(t *testing.T) {
	self := newParty(t, 1)
	var spent int64
	for v := byte(10); v < 16; v++ {
		_, vol := key(t, v)
		var total int64
		for f := range int(v) - 8 {
			cu := int64(100*int(v) + f)
			mustIssue(t, self, vol, f, cu, t0)
			total += cu
		}
		spent += total
	}
	var earned int64
	for pb := byte(20); pb < 24; pb++ {
		pub := newParty(t, pb)
		var latest int64
		for f := range 3 {
			s := mustIssue(t, pub, self.id, f, int64(1000*int(pb)+f), t0)
			latest = mustVerify(t, s).Total
			if pb == 21 && f == 1 {
				continue // lost: receipt 3 covers it
			}
			if _, err := self.l.Accept(s, self.key); err != nil {
				t.Fatal(err)
			}
		}
		earned += latest
	}
	checkBalance(t, self.l, Balance{Earned: earned, Spent: spent, Balance: earned - spent})
}
