package credits

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// issued returns a ledger of publisher key 1 that issued n receipts to
// volunteer key 2.
func issued(b *testing.B, n int) (*Ledger, *sql.DB) {
	k, self := key(b, 1)
	_, vol := key(b, 2)
	l, d := openLedger(b, filepath.Join(b.TempDir(), "node.db"), self)
	for done := 0; done < n; {
		var pays []Payment
		for ; done < n && len(pays) < 1000; done++ {
			pays = append(pays, Payment{Volunteer: vol, Task: testTask(done), Result: testResult("r"), CU: 1000})
		}
		if _, err := l.IssueAll(t0, k, pays); err != nil {
			b.Fatal(err)
		}
	}
	return l, d
}

// BenchmarkPendingForAfter measures listing a volunteer's receipts still
// to countersign (it asks every few seconds) when it already countersigned
// n and 10 are pending: the cost must not grow with n (go test -run '^$'
// -bench PendingFor ./credits).
func BenchmarkPendingForAfter(b *testing.B) {
	for _, n := range []int{100, 10_000, 50_000} {
		b.Run(fmt.Sprintf("receipts=%d", n), func(b *testing.B) {
			l, d := issued(b, n+10)
			if _, err := d.Exec(`UPDATE credits_receipts SET countersig = x'00' WHERE seq <= ?`, n); err != nil {
				b.Fatal(err)
			}
			_, vol := key(b, 2)
			for b.Loop() {
				if got, err := l.PendingFor(vol); err != nil || len(got) != 10 {
					b.Fatalf("%d pending, %v; want 10", len(got), err)
				}
			}
		})
	}
}

// BenchmarkIssueAfter measures issuing one receipt (one transaction) to a
// volunteer that already holds n receipts from this publisher: a long job
// on a small swarm gives each pair tens of thousands. The cost must not
// grow with n (go test -run '^$' -bench IssueAfter ./credits).
func BenchmarkIssueAfter(b *testing.B) {
	for _, n := range []int{100, 10_000, 50_000} {
		b.Run(fmt.Sprintf("receipts=%d", n), func(b *testing.B) {
			l, _ := issued(b, n)
			k, _ := key(b, 1)
			_, vol := key(b, 2)
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Issue(t0, k, vol, testTask(n+i), testResult("r"), 1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBalanceAfter measures reading the node's balance (the web app
// and the status command show it every second) when its ledger holds n
// receipts, as their publisher and as their volunteer: the cost must not
// grow with n (go test -run '^$' -bench BalanceAfter ./credits).
func BenchmarkBalanceAfter(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		for _, role := range []Role{RolePublisher, RoleVolunteer} {
			b.Run(fmt.Sprintf("receipts=%d/%s", n, role), func(b *testing.B) {
				l, d := issued(b, n)
				want := Balance{Spent: int64(n) * 1000, Balance: -int64(n) * 1000}
				if role == RoleVolunteer {
					_, vol := key(b, 2)
					var err error
					if l, err = NewLedger(d, vol); err != nil {
						b.Fatal(err)
					}
					want = Balance{Earned: int64(n) * 1000, Balance: int64(n) * 1000}
				}
				for b.Loop() {
					if got, err := l.Balance(); err != nil || got != want {
						b.Fatalf("balance %+v, %v; want %+v", got, err, want)
					}
				}
			})
		}
	}
}
