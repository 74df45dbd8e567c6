package gui

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestSocketOwner(t *testing.T) {
	if !littleEndian() {
		t.Skip("the sample table is a little-endian machine's")
	}
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1602 1 0 100 0 0 10 0
   1: 0100007F:96AF 0100007F:AC32 01 00000000:00000000 00:00000000 00000000  1000        0 77 1 0 20 4 30 10 -1
   2: 0100007F:AC32 0100007F:96AF 01 00000000:00000000 00:00000000 00000000     0        0 78 1 0 20 4 30 10 -1
`
	client := netip.MustParseAddrPort("127.0.0.1:38575")
	server := netip.MustParseAddrPort("127.0.0.1:44082")
	if uid, ok := socketOwner(strings.NewReader(table), client, server); !ok || uid != 1000 {
		t.Fatalf("client socket owner = %d, %v; want 1000", uid, ok)
	}
	if uid, ok := socketOwner(strings.NewReader(table), server, client); !ok || uid != 0 {
		t.Fatalf("server socket owner = %d, %v; want 0", uid, ok)
	}
	if _, ok := socketOwner(strings.NewReader(table), client, netip.MustParseAddrPort("127.0.0.1:1")); ok {
		t.Fatal("found a socket that is not in the table")
	}
	ap, ok := parseProcAddr("00000000000000000000000001000000:1F90")
	if !ok || ap != netip.MustParseAddrPort("[::1]:8080") {
		t.Fatalf("IPv6 loopback parsed as %v, %v", ap, ok)
	}
}

func littleEndian() bool {
	switch runtime.GOARCH {
	case "amd64", "386", "arm64", "arm", "riscv64", "loong64", "ppc64le", "mips64le", "mipsle", "wasm":
		return true
	}
	return false
}

// On Linux the server finds the test itself at the other end of a real
// connection.
func TestConnOwnerOfARealConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/net/tcp is Linux's")
	}
	var uid int
	var ok bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, ok = connOwner(r.Context().Value(http.LocalAddrContextKey).(net.Addr), r.RemoteAddr)
	}))
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !ok || uid != os.Getuid() {
		t.Fatalf("owner = %d, %v; want this process's user %d", uid, ok, os.Getuid())
	}
}

// Another user of the machine loading the page gets no cookie.
func TestPageRefusesAnotherUser(t *testing.T) {
	s := newBackend().server(t)
	s.owner = func(net.Addr, string) (int, bool) { return os.Getuid() + 1, true }
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, body := request(t, ts, "GET", "/", "", nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" || !strings.Contains(body, "another user") {
		t.Fatalf("GET / from another user: %d, Set-Cookie %q, %q", resp.StatusCode, resp.Header.Get("Set-Cookie"), body)
	}
	s.owner = func(net.Addr, string) (int, bool) { return 0, false }
	if resp, _ := request(t, ts, "GET", "/", "", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Set-Cookie") == "" {
		t.Fatalf("GET / when the owner cannot be known: %d, want the page and its cookie", resp.StatusCode)
	}
}
