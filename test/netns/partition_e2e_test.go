package netns

import (
	"math"
	"strings"
	"testing"
	"time"
)

// heavyJob takes a few seconds per frame on one core, so that volunteers
// hold leases when the network splits.
var heavyJob = []string{"--frames", "1-12", "--replicas", "2", "--resolution", "320x180", "--samples", "16"}

// The swarm splits and heals. Outside: the bootstrap relay, a publisher in
// home A and two volunteers in home B (one NAT address for both). Home D
// is a LAN with a publisher and two volunteers. Everyone renders A's job
// and D's; mid-way through D's, home D's link to the internet is cut:
//
//   - B's volunteers, cut off from D mid-job, stop renewing their leases,
//     and D requeues them to its own volunteers.
//   - The island keeps rendering: D's job completes there, and so does a
//     job published on the island during the cut, whose scene is found
//     through the LAN DHT.
//   - When the link returns, what B's volunteers finished for D during the
//     cut is delivered late and either verified and credited or refused;
//     receipts of work done across the cut are collected; nothing is
//     counted twice, and for each publisher what it spent equals what the
//     volunteers hold receipts from it for, all countersigned.
func TestIslandKeepsRenderingAndHeals(t *testing.T) {
	requireNetbed(t)
	b := newNetbed(t)
	relay := b.publicHost("relay").start(t, nil, "--no-volunteer")
	boot := relay.bootstrap()
	homeA, homeB, homeD := b.home("homea", coneNAT), b.home("homeb", coneNAT), b.home("homed", coneNAT)
	a := homeA.host("pc").start(t, nil, "--no-volunteer", "--bootstrap", boot)
	var outside, island []*nsnode
	for _, name := range []string{"pc1", "pc2"} {
		outside = append(outside, homeB.host(name).start(t, nil, "--bootstrap", boot, "--cpus", "1"))
	}
	d := homeD.host("pub").start(t, nil, "--no-volunteer", "--bootstrap", boot)
	for _, name := range []string{"pc1", "pc2"} {
		island = append(island, homeD.host(name).start(t, nil, "--bootstrap", boot, "--cpus", "1"))
	}
	for _, p := range []*nsnode{a, d} {
		waitUntil(t, 90*time.Second, p.host.ns+" reachable through a relay", func() bool { return relayed(p) })
	}
	// The island's nodes reach each other on their LAN.
	waitUntil(t, 30*time.Second, "home D's nodes connected over their LAN", func() bool {
		for _, v := range island {
			p, ok := d.peer(v)
			if !ok || !strings.Contains(strings.Join(p.Addrs, " "), "/ip4/192.168.1.") {
				return false
			}
		}
		return true
	})

	ja := a.publish(sceneCopy(t, "outside"), tinyJob...)
	jd := d.publish(sceneCopy(t, "island"), heavyJob...)
	waitUntil(t, 2*time.Minute, "A's job to complete", func() bool { return a.status(ja).State == "completed" })
	waitUntil(t, 2*time.Minute, "a volunteer of home B to deliver for D", func() bool {
		for _, v := range outside {
			if strings.Contains(v.log.String(), "msg=taskDelivered component=volunteer task="+jd) {
				return true
			}
		}
		return false
	})
	// Cut just as a volunteer of home B is granted one of D's frames, so
	// that it holds the lease across the cut.
	leased := func() int {
		n := 0
		for _, v := range outside {
			n += strings.Count(v.log.String(), "msg=taskLeased component=volunteer task="+jd)
		}
		return n
	}
	before := leased()
	waitUntil(t, time.Minute, "a volunteer of home B to lease another of D's frames", func() bool { return leased() > before })
	if st := d.status(jd); st.State == "completed" {
		t.Fatalf("D's job completed before the cut; nothing to requeue: %+v", st)
	}
	homeD.cut()
	cut := time.Now()
	marks := map[*nsnode]int{}
	for _, v := range outside {
		marks[v] = len(v.log.String())
	}
	t.Logf("home D cut off; D's job %+v", d.status(jd).Frames)

	// During the cut the island publishes a new job.
	jd2 := d.publish(sceneCopy(t, "island-during-cut"), tinyJob...)
	for _, w := range []struct{ job, what string }{{jd, "D's job"}, {jd2, "D's job published during the cut"}} {
		waitUntil(t, 3*time.Minute, w.what+" to complete on the island", func() bool { return d.status(w.job).State == "completed" })
		t.Logf("%s completed on the island %.1fs after the cut", w.what, time.Since(cut).Seconds())
	}
	if !strings.Contains(d.log.String(), "msg=leasesExpired") {
		t.Errorf("D completed its job without requeueing a lease of the cut-off volunteers")
	}
	homeD.restore()
	t.Logf("home D reconnected after %.1fs", time.Since(cut).Seconds())

	// The books reconcile across the heal.
	vols := append(append([]*nsnode{}, outside...), island...)
	waitUntil(t, 2*time.Minute, "books to agree after the heal", func() bool {
		return booksAgree(t, []*nsnode{a, d}, vols, false)
	})
	booksAgree(t, []*nsnode{a, d}, vols, true)
	// Work B's volunteers held for D when the cut came was resolved once
	// the link returned: delivered late, or refused by D.
	resolved := 0
	for _, v := range outside {
		late := v.log.String()[marks[v]:]
		delivered := strings.Count(late, "msg=taskDelivered component=volunteer task="+jd)
		// Refused: told so when delivering ("peer answered"), or when
		// committing or renewing a lease D requeued during the cut.
		refused := strings.Count(late, "peer answered") + strings.Count(late, "msg=taskFailed component=volunteer job="+jd)
		t.Logf("%s, once reconnected: %d results for D delivered late, %d refused by D", v.host.ns, delivered, refused)
		resolved += delivered + refused
	}
	if resolved == 0 {
		t.Errorf("home B's volunteers neither delivered nor were refused anything for D after the heal; did they hold D's leases at the cut?")
	}
	if st := d.status(jd); st.Frames.Verified != 12 {
		t.Errorf("D's job: %+v, want 12 verified frames", st.Frames)
	}
}

// booksAgree reports whether, for every publisher, what it spent equals
// what the volunteers hold receipts from it for, every receipt is
// countersigned, and no volunteer–task pair was paid twice. With report
// set it logs the books and fails the test on a double payment.
func booksAgree(t *testing.T, pubs, vols []*nsnode, report bool) bool {
	t.Helper()
	ok := true
	for _, p := range pubs {
		pc := p.credits()
		earned := 0.0
		for _, v := range vols {
			for _, r := range v.credits().Receipts {
				if r.Role == "volunteer" && r.Counterpart == p.id {
					earned += r.CU
				}
			}
		}
		seen := map[string]bool{}
		unsigned := 0
		for _, r := range pc.Receipts {
			key := r.Counterpart + " " + r.Task
			if seen[key] {
				t.Errorf("publisher %s paid %s twice", p.host.ns, key)
			}
			seen[key] = true
			if !r.Countersigned {
				unsigned++
			}
		}
		if pc.Spent == 0 || math.Abs(pc.Spent-earned) > 0.01 || unsigned > 0 {
			ok = false
		}
		if report {
			t.Logf("publisher %s: spent %.3f CU in %d receipts (%d not countersigned); volunteers earned %.3f CU from it",
				p.host.ns, pc.Spent, len(pc.Receipts), unsigned, earned)
		}
	}
	return ok
}
