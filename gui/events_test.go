package gui

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name, data string
	comment    bool
}

// readEvents parses a text/event-stream into ch until it ends.
func readEvents(sc *bufio.Scanner, ch chan<- sseEvent) {
	defer close(ch)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				ch <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ev.comment = true
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func nextState(t *testing.T, ch <-chan sseEvent) Snapshot {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.name != "state" {
				continue
			}
			var s Snapshot
			if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
				t.Fatalf("state %q: %v", ev.data, err)
			}
			return s
		case <-timeout:
			t.Fatal("no state event within 5s")
		}
	}
}

func TestEventsStreamChangedState(t *testing.T) {
	b := newBackend()
	s := b.server(t)
	s.tick = 10 * time.Millisecond
	ts := httptest.NewServer(s)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/events", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, ct)
	}
	ch := make(chan sseEvent, 16)
	go readEvents(bufio.NewScanner(resp.Body), ch)

	first := nextState(t, ch)
	if first.ID.PeerID != "12D3KooWTest" || len(first.Peers) != 1 || len(first.Jobs) != 2 ||
		first.Activity.State != StateRendering || first.Balance.Balance != 42.5 || first.Network.RoutingPeers != 3 {
		t.Fatalf("first state = %+v", first)
	}
	// Nothing changes for many ticks: no new state.
	select {
	case ev := <-ch:
		if ev.name == "state" {
			t.Fatalf("a state event with nothing changed: %s", ev.data)
		}
	case <-time.After(100 * time.Millisecond):
	}
	b.node.setPeers(append(b.node.Peers(), Peer{PeerID: "12D3KooWNew", State: "relayed"}))
	if next := nextState(t, ch); len(next.Peers) != 2 || next.Peers[1].PeerID != "12D3KooWNew" {
		t.Fatalf("after a peer joined: %+v", next.Peers)
	}
	cancel()
	for range ch {
	}
}

func TestEventsBounded(t *testing.T) {
	s := newBackend().server(t)
	ts := httptest.NewServer(s)
	defer ts.Close()
	for range maxStreams {
		s.streams <- struct{}{}
	}
	if resp, _ := request(t, ts, "GET", "/api/events", "", bearer); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream beyond the bound: %d, want 503", resp.StatusCode)
	}
	if resp, _ := request(t, ts, "GET", "/api/events", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without a token: %d, want 401", resp.StatusCode)
	}
}

// An open page must not hold up the node's shutdown: http.Server.Shutdown
// waits for open requests, so streams end when it starts.
func TestEventsEndOnShutdown(t *testing.T) {
	ts := httptest.NewUnstartedServer(newBackend().server(t))
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ch := make(chan sseEvent, 16)
	go readEvents(bufio.NewScanner(resp.Body), ch)
	nextState(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a stream open: %v", err)
	}
	for range ch {
	}
}
