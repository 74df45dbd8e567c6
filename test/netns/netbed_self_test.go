package netns

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// The test bed's NATs behave as their doc says: a cone NAT keeps the
// source port and shows the same mapping to every destination, and lets in
// nothing from an address and port it has not sent to; a symmetric NAT
// shows each destination another port.
func TestNetbedNATKinds(t *testing.T) {
	requireNetbed(t)
	b := newNetbed(t)
	srv := []*nshost{b.publicHost("srv1"), b.publicHost("srv2")}
	cone := b.home("cone", coneNAT)
	sym := b.home("sym", symmetricNAT)
	hosts := map[natKind]*nshost{coneNAT: cone.host("pc"), symmetricNAT: sym.host("pc")}

	var obs []*net.UDPConn
	for _, s := range srv {
		c, err := udpIn(s.ns, s.ip+":5000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		obs = append(obs, c)
	}
	for kind, h := range hosts {
		c, err := udpIn(h.ns, "0.0.0.0:4000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var seen []*net.UDPAddr
		for i, s := range srv {
			if _, err := c.WriteToUDP([]byte("hello"), &net.UDPAddr{IP: net.ParseIP(s.ip), Port: 5000}); err != nil {
				t.Fatal(err)
			}
			obs[i].SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			_, from, err := obs[i].ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("%s did not receive from %s: %v", s.name, h.ns, err)
			}
			seen = append(seen, from)
		}
		wan := h.site.wanIP
		for i, from := range seen {
			if from.IP.String() != wan {
				t.Errorf("%s saw %s from %s, want the NAT's address %s", srv[i].name, from, h.ns, wan)
			}
		}
		switch kind {
		case coneNAT:
			if seen[0].Port != 4000 || seen[1].Port != 4000 {
				t.Errorf("cone NAT: destinations saw ports %d and %d, want the source port 4000 at both", seen[0].Port, seen[1].Port)
			}
			// A packet from a port the host never sent to is not let in.
			other, err := udpIn(srv[1].ns, srv[1].ip+":5001")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			other.WriteToUDP([]byte("unsolicited"), seen[1])
			// A reply from where it did send is.
			obs[0].WriteToUDP([]byte("reply"), seen[0])
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			n, from, err := c.ReadFromUDP(buf)
			if err != nil || string(buf[:n]) != "reply" {
				t.Errorf("cone NAT: host read %q from %v (%v), want only the reply", buf[:n], from, err)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if n, _, err := c.ReadFromUDP(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("cone NAT let in %q from a port the host never sent to", buf[:n])
			}
		case symmetricNAT:
			if seen[0].Port == seen[1].Port {
				t.Errorf("symmetric NAT: both destinations saw port %d", seen[0].Port)
			}
		}
		t.Logf("NAT kind %d: %s:4000 seen as %v", kind, h.ip, seen)
	}
}

// An impaired link delays each direction by the delay it is given and drops
// about the share of packets it is told to.
func TestNetbedImpairedLink(t *testing.T) {
	requireImpairment(t)
	b := newNetbed(t)
	srv := b.publicHost("srv")
	home := b.home("home", coneNAT)
	pc := home.host("pc")
	echo, err := udpIn(srv.ns, srv.ip+":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFromUDP(buf)
			if err != nil {
				return
			}
			echo.WriteToUDP(buf[:n], from)
		}
	}()
	c, err := udpIn(pc.ns, "0.0.0.0:4000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.ParseIP(srv.ip), Port: 5000}
	// ping sends n probes, one at a time, and returns the round trips of
	// those answered within wait.
	ping := func(n int, wait time.Duration) []time.Duration {
		var rtts []time.Duration
		buf := make([]byte, 64)
		for i := range n {
			start := time.Now()
			c.WriteToUDP([]byte{byte(i)}, to)
			c.SetReadDeadline(time.Now().Add(wait))
			for {
				m, _, err := c.ReadFromUDP(buf)
				if err != nil {
					break
				}
				if m == 1 && buf[0] == byte(i) {
					rtts = append(rtts, time.Since(start))
					break
				}
			}
		}
		return rtts
	}
	if got := ping(3, time.Second); len(got) != 3 {
		t.Fatalf("plain link answered %d of 3", len(got))
	}
	home.impair(50*time.Millisecond, 0)
	for _, rtt := range ping(5, time.Second) {
		if rtt < 100*time.Millisecond || rtt > 300*time.Millisecond {
			t.Errorf("round trip %v over a link delaying 50 ms each way", rtt)
		}
	}
	home.impair(0, 0.3)
	got := len(ping(100, 100*time.Millisecond))
	// Both directions drop 30 %: about 49 % of probes come back.
	if got < 25 || got > 75 {
		t.Errorf("%d of 100 probes came back over a link dropping 30 %% each way, want about 49", got)
	}
	t.Logf("30 %% loss each way: %d of 100 probes answered", got)
}
