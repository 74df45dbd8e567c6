package credits

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/renderswarm/renderswarm/internal/db"
)

// BenchmarkIssueAfter measures issuing one receipt (one transaction) to a
// volunteer that already holds n receipts from this publisher: a long job
// on a small swarm gives each pair tens of thousands. The cost must not
// grow with n (go test -run '^$' -bench IssueAfter ./credits).
func BenchmarkIssueAfter(b *testing.B) {
	for _, n := range []int{100, 10_000, 50_000} {
		b.Run(fmt.Sprintf("receipts=%d", n), func(b *testing.B) {
			k, self := key(b, 1)
			_, vol := key(b, 2)
			d, err := db.Open(filepath.Join(b.TempDir(), "node.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			l, err := NewLedger(d, self)
			if err != nil {
				b.Fatal(err)
			}
			for done := 0; done < n; {
				var pays []Payment
				for ; done < n && len(pays) < 1000; done++ {
					pays = append(pays, Payment{Volunteer: vol, Task: testTask(done), Result: testResult("r"), CU: 1000})
				}
				if _, err := l.IssueAll(t0, k, pays); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Issue(t0, k, vol, testTask(n+i), testResult("r"), 1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
