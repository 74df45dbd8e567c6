package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	mh "github.com/multiformats/go-multihash"
)

// startNode builds and runs a node until the test ends.
func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		n.Close()
	})
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testCID(s string) cid.Cid {
	h, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// A node bootstrapped from one peer finds what a third node provides, and
// learns of that third node, through the DHT alone.
func TestDHTProvideFindAcrossBootstrap(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	c := startNode(t, TestingConfig(t, a.AddrInfo()))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key := testCID("scene asset")
	if err := b.Provide(ctx, key); err != nil {
		t.Fatalf("Provide: %v", err)
	}
	var found []peer.ID
	for ai := range c.FindProviders(ctx, key) {
		found = append(found, ai.ID)
	}
	if len(found) != 1 || found[0] != b.ID() {
		t.Fatalf("providers of %s = %v, want [%s]", key, found, b.ID())
	}
	// Routed host: c can reach b by bare peer ID.
	if err := c.RoutedHost().Connect(ctx, peer.AddrInfo{ID: b.ID()}); err != nil {
		t.Fatalf("dial by peer ID through DHT: %v", err)
	}
}

// A lone first node still answers for what it provides once peers arrive.
func TestProvideBeforeAnyPeerIsRecorded(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	key := testCID("lonely")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := a.Provide(ctx, key)
	cancel()
	if err == nil {
		t.Fatal("Provide with no peers reported success for the network part")
	}
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := b.WaitRouting(ctx); err != nil {
		t.Fatal(err)
	}
	var got []peer.ID
	for ai := range b.FindProviders(ctx, key) {
		got = append(got, ai.ID)
	}
	if len(got) != 1 || got[0] != a.ID() {
		t.Fatalf("providers = %v, want the lone node %s", got, a.ID())
	}
}

func TestPubSubDeliversAndRejects(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	c := startNode(t, TestingConfig(t, a.AddrInfo()))
	reject := func(_ peer.ID, data []byte) error {
		if bytes.HasPrefix(data, []byte("forged")) {
			return errors.New("bad signature")
		}
		return nil
	}
	for _, n := range []*Node{a, b, c} {
		if err := n.Join(testTopic, reject); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[peer.ID][]string{}
	for _, n := range []*Node{b, c} {
		go n.Subscribe(ctx, testTopic, func(m Message) {
			mu.Lock()
			got[n.ID()] = append(got[n.ID()], string(m.Data))
			mu.Unlock()
		})
	}
	waitFor(t, "topic mesh", 15*time.Second, func() bool { return len(a.TopicPeers(testTopic)) == 2 })

	if err := a.Publish(ctx, testTopic, bytes.Repeat([]byte("x"), MaxMessageSize+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized publish: err = %v, want ErrMessageTooLarge", err)
	}
	// A rejected message is published (the local validator refuses it, so
	// Publish itself fails) and never delivered; the good one after it is.
	if err := a.Publish(ctx, testTopic, []byte("forged job")); err == nil {
		t.Fatal("a message the validator rejects was published")
	}
	if err := a.Publish(ctx, testTopic, []byte("job 1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery to b and c", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[b.ID()]) == 1 && len(got[c.ID()]) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	for id, msgs := range got {
		if strings.Join(msgs, ",") != "job 1" {
			t.Errorf("%s received %q, want only the valid message", id, msgs)
		}
	}
}

func TestSwarmKeyIsolates(t *testing.T) {
	var key pnet.PSK = make([]byte, 32)
	rand.Read(key)
	withKey := func(bootstrap ...peer.AddrInfo) Config {
		cfg := TestingConfig(t, bootstrap...)
		cfg.SwarmKey = key
		return cfg
	}
	a := startNode(t, withKey())
	b := startNode(t, withKey(a.AddrInfo()))
	waitFor(t, "private peers to connect", 15*time.Second, func() bool {
		return len(b.Host().Network().ConnsToPeer(a.ID())) > 0
	})
	for _, addr := range a.Addrs() {
		if strings.Contains(addr.String(), "quic") {
			t.Errorf("private host listens on QUIC: %s", addr)
		}
	}
	outsider := startNode(t, TestingConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := outsider.Host().Connect(ctx, a.AddrInfo()); err == nil {
		t.Fatal("a node without the swarm key connected to a private swarm")
	}
}

func TestOnlyLoopback(t *testing.T) {
	cfg := TestingConfig(t)
	if !onlyLoopback(cfg.ListenAddrs) {
		t.Fatal("127.0.0.1 addresses not seen as loopback")
	}
	if onlyLoopback(DefaultListenAddrs()) {
		t.Fatal("0.0.0.0 seen as loopback")
	}
}

func TestRPC(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	const proto = "/renderswarm/test/1"
	a.HandleRPC(proto, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		if string(req) == "fail" {
			return nil, errors.New("no work for you")
		}
		return append([]byte(from.String()+":"), req...), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := b.Call(ctx, a.ID(), proto, []byte("lease?"))
	if err != nil || string(resp) != b.ID().String()+":lease?" {
		t.Fatalf("Call = %q, %v", resp, err)
	}
	_, err = b.Call(ctx, a.ID(), proto, []byte("fail"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "no work for you" {
		t.Fatalf("error answer: %v, want RemoteError", err)
	}
	if _, err := b.Call(ctx, a.ID(), proto, make([]byte, MaxRPCMessage+1)); !errors.Is(err, ErrRPCTooLarge) {
		t.Fatalf("oversized request: %v", err)
	}
	// A raw stream announcing a huge frame is cut off, not buffered.
	s, err := b.Host().NewStream(ctx, a.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte{0xff, 0xff, 0xff, 0xff})
	s.CloseWrite()
	buf := make([]byte, 16)
	if n, err := s.Read(buf); err == nil {
		t.Fatalf("handler answered %d bytes to an oversized frame", n)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := readFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Property: what decodes re-encodes to the bytes it came from.
		var out bytes.Buffer
		if err := writeFrame(&out, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:4+len(b)]) {
			t.Fatalf("round trip changed the frame")
		}
	})
}

// testTopic is a pub/sub topic of these tests only.
const testTopic = "/renderswarm/test/1"

// Regression: a node whose publisher stopped answering took up to
// rpcTimeout (30 s) to stop, its volunteer blocked in Call. Call returns
// as soon as its context is cancelled.
func TestCallReturnsWhenCancelled(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	const proto = "/renderswarm/test/1"
	answer := make(chan struct{})
	defer close(answer)
	a.HandleRPC(proto, func(ctx context.Context, _ peer.ID, _ []byte) ([]byte, error) {
		<-answer // never, while the test runs
		return nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.Call(ctx, a.ID(), proto, []byte("lease?"))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Call = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Call returned %v after its context was cancelled", d)
	}
}

// A body call whose peer never answers returns once its context is
// cancelled (a stopping node), not at the call's deadline.
func TestCallBodyReturnsWhenCancelled(t *testing.T) {
	a := startNode(t, TestingConfig(t))
	b := startNode(t, TestingConfig(t, a.AddrInfo()))
	const proto = "/renderswarm/test-body/1"
	answer := make(chan struct{})
	defer close(answer)
	a.HandleBodyRPC(proto, func(context.Context, peer.ID, []byte, *Body) ([]byte, error) {
		<-answer // never, while the test runs
		return nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.CallBody(ctx, a.ID(), proto, []byte("countersign"), strings.NewReader(""), 0)
	if err == nil {
		t.Fatal("CallBody succeeded against a peer that never answers")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("CallBody returned %v after its context was cancelled", d)
	}
}
