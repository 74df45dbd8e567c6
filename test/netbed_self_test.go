package test

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
