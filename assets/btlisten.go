package assets

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// The plain BitTorrent listener (Config.BTListen, off by default) lets
// stock clients download the assets this node seeds. It is one TCP port
// that speaks the BitTorrent wire protocol and, for requests that start
// with "GET ", a minimal HTTP tracker whose only peer is this node: some
// clients (aria2) take peers only from trackers, never from a magnet
// link's x.pe. Nothing is announced anywhere else and the torrent client
// still dials only libp2p peers, so the node opens no connection to a
// stock client; they connect to it.

// sniffTimeout bounds the wait for a connection's first bytes.
const sniffTimeout = 10 * time.Second

// btListener accepts plain TCP connections, passes BitTorrent ones to the
// torrent client and answers tracker requests itself.
type btListener struct {
	ln      net.Listener
	conns   chan net.Conn
	tracker *http.Server
	http    *chanListener
	warm    func(metainfo.Hash) // opens the asset a handshake names (open.go)
	wg      sync.WaitGroup
	done    chan struct{}
}

func listenBT(addr string, s *Store) (*btListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("BitTorrent listener: %w", err)
	}
	b := &btListener{ln: ln, conns: make(chan net.Conn), done: make(chan struct{}), warm: s.warm}
	b.http = &chanListener{addr: ln.Addr(), conns: make(chan net.Conn), done: b.done}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /announce", s.announceHandler)
	b.tracker = &http.Server{Handler: mux, ReadHeaderTimeout: sniffTimeout}
	b.wg.Go(func() { b.tracker.Serve(b.http) })
	b.wg.Go(b.acceptLoop)
	return b, nil
}

func (b *btListener) acceptLoop() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.sniff(c) })
	}
}

// sniff reads a connection's first bytes and hands it on.
func (b *btListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReader(c)
	head, err := br.Peek(4)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var conn net.Conn = bufferedConn{c, br}
	to := b.conns
	if string(head) == "GET " {
		to = b.http.conns
	} else {
		conn = newWarmConn(conn, b.warm)
	}
	select {
	case to <- conn:
	case <-b.done:
		c.Close()
	}
}

// Accept gives the torrent client its next BitTorrent connection.
func (b *btListener) Accept() (net.Conn, error) {
	select {
	case c := <-b.conns:
		return c, nil
	case <-b.done:
		return nil, net.ErrClosed
	}
}

func (b *btListener) Addr() net.Addr { return b.ln.Addr() }

// Close stops accepting and waits for the listener's goroutines.
func (b *btListener) Close() error {
	close(b.done)
	err := b.ln.Close()
	b.tracker.Close()
	b.wg.Wait()
	return err
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by btListener.sniff.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

// announceHandler is the tracker: for an asset this node seeds it answers
// with this node alone, at the address the client reached.
func (s *Store) announceHandler(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		b, _ := bencode.Marshal(map[string]string{"failure reason": msg})
		w.Write(b)
	}
	raw := r.URL.Query().Get("info_hash")
	if len(raw) != 20 {
		fail("bad info_hash")
		return
	}
	var ih metainfo.Hash
	copy(ih[:], raw)
	if s.warm(ih); s.seeding(ih) == nil {
		fail("unknown torrent")
		return
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	tcp, ok2 := local.(*net.TCPAddr)
	if !ok || !ok2 {
		fail("no address")
		return
	}
	resp := map[string]any{"interval": 1800}
	port := []byte{byte(tcp.Port >> 8), byte(tcp.Port)}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		resp["peers"] = string(append(ip4, port...))
	} else {
		resp["peers6"] = string(append(append([]byte{}, tcp.IP.To16()...), port...))
	}
	b, err := bencode.Marshal(resp)
	if err != nil {
		fail("internal error")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b)
}

// btAddr is the BitTorrent listener's HOST:PORT for links ("" when off).
// An unspecified listen address is shown as this machine's first
// non-loopback IPv4 address.
func (s *Store) btAddr() string {
	s.mu.Lock()
	bt := s.bt
	s.mu.Unlock()
	if bt == nil {
		return ""
	}
	a := bt.Addr().(*net.TCPAddr)
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range addrs {
				if n, ok := ia.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
					ip = n.IP
					break
				}
			}
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// BTAddr is the plain BitTorrent listener's address, "" when it is off.
func (s *Store) BTAddr() string { return s.btAddr() }

func (s *Store) trackerURL() string {
	if a := s.btAddr(); a != "" {
		return "http://" + a + "/announce"
	}
	return ""
}
