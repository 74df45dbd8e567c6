package gui

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// The loopback port is open to every user of the machine, and the page is
// served without a token; so before the index hands out the session
// cookie, the server asks the kernel, where it can (Linux: /proc/net/tcp),
// which user holds the other end of the connection, and hands it only to
// its own user.

// socketOwner finds, in a /proc/net/tcp or tcp6 table, the owner of the
// socket bound to local and connected to remote.
func socketOwner(table io.Reader, local, remote netip.AddrPort) (uid int, ok bool) {
	sc := bufio.NewScanner(table)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		l, okL := parseProcAddr(f[1])
		r, okR := parseProcAddr(f[2])
		if !okL || !okR || l != local || r != remote {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// parseProcAddr parses "0100007F:96AF" (127.0.0.1:38575 on a
// little-endian machine): the address as the kernel's 32-bit words, then
// the port, in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		// Each word is printed as a number; in memory it sits in host order.
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:i+4]))
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// addrPort converts a net.Addr of a TCP connection.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// connOwner is the user holding the client end of r's connection, when
// the system tells; ok is false when it cannot be known.
func connOwner(local net.Addr, remote string) (uid int, ok bool) {
	l, okL := addrPort(local)
	r, err := netip.ParseAddrPort(remote)
	if !okL || err != nil {
		return 0, false
	}
	r = netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		// The client's socket: bound to the remote end, connected to ours.
		uid, ok := socketOwner(f, r, l)
		f.Close()
		if ok {
			return uid, true
		}
	}
	return 0, false
}
