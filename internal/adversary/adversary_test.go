package adversary

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/renderswarm/renderswarm/job"
)

// dhtMessage encodes a kad-dht request as the wire carries it: a varint
// length, then protobuf fields 1 (type), 2 (key) and 8 (a closer peer).
func dhtMessage(typ uint64, key []byte) []byte {
	var m []byte
	m = binary.AppendUvarint(m, 1<<3|0)
	m = binary.AppendUvarint(m, typ)
	m = binary.AppendUvarint(m, 2<<3|2)
	m = binary.AppendUvarint(m, uint64(len(key)))
	m = append(m, key...)
	m = binary.AppendUvarint(m, 8<<3|2)
	m = binary.AppendUvarint(m, 3)
	m = append(m, 0x0a, 0x01, 0xff)
	return append(binary.AppendUvarint(nil, uint64(len(m))), m...)
}

// Provider requests are found whole or split across reads; other requests
// are ignored; bytes that are no request stream stop the parse.
func TestParseRequests(t *testing.T) {
	stream := slices.Concat(dhtMessage(2, []byte("add")), dhtMessage(4, []byte("find-node")), dhtMessage(3, []byte("get")))
	for _, cut := range []int{1, 5, len(stream) / 2, len(stream)} {
		var seen []string
		rest, lost := parseRequests(slices.Clone(stream[:cut]), func(k []byte) { seen = append(seen, string(k)) })
		rest, lost2 := parseRequests(append(rest, stream[cut:]...), func(k []byte) { seen = append(seen, string(k)) })
		if lost || lost2 || len(rest) != 0 || !slices.Equal(seen, []string{"add", "get"}) {
			t.Errorf("cut at %d: saw %q, %d bytes left, lost %v %v", cut, seen, len(rest), lost, lost2)
		}
	}
	if _, lost := parseRequests(bytes.Repeat([]byte{0xff}, 12), func([]byte) {}); !lost {
		t.Error("garbage was parsed as requests")
	}
}

// A tandem's members ask back to back once all of them want work.
func TestTandemAsksBackToBack(t *testing.T) {
	tn := NewTandem(2)
	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	var wg sync.WaitGroup
	for i, name := range []string{"a", "b"} {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 100 * time.Millisecond) // b wants work later
			note(name + " wants")
			tn.ask(context.Background(), func() { note(name + " asks") })
		})
	}
	wg.Wait()
	if want := []string{"a wants", "b wants", "a asks", "b asks"}; !slices.Equal(events, want) {
		t.Fatalf("events %q, want %q", events, want)
	}
}

// A ring makes each task's image once; the other members copy it.
func TestRingSharesOneImage(t *testing.T) {
	r := NewRing()
	task := job.Task{Frame: 7}
	made := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	copied := 0
	for range 3 {
		wg.Go(func() {
			img, _, c, err := r.image(context.Background(), task, func() (Image, int64, error) {
				mu.Lock()
				made++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				return Image{PNG: []byte("png")}, 5, nil
			})
			if err != nil || string(img.PNG) != "png" {
				t.Errorf("image %q, %v", img.PNG, err)
			}
			if c {
				mu.Lock()
				copied++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if made != 1 || copied != 2 {
		t.Fatalf("made %d images, %d copied; want 1 made, 2 copied", made, copied)
	}
}

// A watching peer finds a result another peer shares, through the DHT
// requests it serves, and reads it by its task.
func TestWatchFindsSharedResults(t *testing.T) {
	if testing.Short() {
		t.Skip("two libp2p peers; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watcher, err := Start(ctx, Config{Dir: t.TempDir(), WatchResults: true})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	sharer, err := Start(ctx, Config{Dir: t.TempDir(), Bootstrap: []peer.AddrInfo{watcher.AddrInfo()}})
	if err != nil {
		t.Fatal(err)
	}
	defer sharer.Close()
	px := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	px.Set(1, 1, color.NRGBA{200, 10, 10, 255})
	img, err := newImage(px)
	if err != nil {
		t.Fatal(err)
	}
	task := job.Task{Frame: 3}
	path := filepath.Join(t.TempDir(), resultName(task))
	if err := os.WriteFile(path, img.PNG, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sharer.store.Add(ctx, []string{path}); err != nil {
		t.Fatal(err)
	}
	got, err := watcher.results.await(ctx, task)
	if err != nil {
		t.Fatalf("the watcher did not find the shared result: %v", err)
	}
	if !bytes.Equal(got, img.PNG) {
		t.Fatal("the watcher found other bytes than were shared")
	}
}
