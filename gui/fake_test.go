package gui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The fakes below implement every interface the server needs, and record
// what the server asked of them.

type fakeNode struct {
	mu    sync.Mutex
	peers []Peer
}

func (*fakeNode) ID() ID {
	const why = "bubblewrap does not work here: no user namespaces"
	return ID{PeerID: "12D3KooWTest", Addrs: []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWTest"},
		Sandbox: Sandbox{Problem: "blender: " + why, Renderers: map[string]string{"blender": why}}}
}

func (f *fakeNode) Peers() []Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Peer(nil), f.peers...)
}

func (f *fakeNode) setPeers(p []Peer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = p
}

func (*fakeNode) Network() Network {
	return Network{Peers: 1, RoutingPeers: 3, Reachability: "private",
		Relays: []string{"/ip4/10.0.0.9/tcp/4001/p2p/12D3KooWRelay/p2p-circuit"}, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/4001"}}
}

type fakeAssets struct {
	mu       sync.Mutex
	added    [][]string
	pinned   map[string]bool
	exported string
}

func (f *fakeAssets) Add(_ context.Context, paths []string) (Asset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, paths)
	return Asset{CID: "bafyadded", Name: filepath.Base(paths[0]), Files: len(paths)}, nil
}

func (f *fakeAssets) Get(ctx context.Context, cid string, progress func(Progress)) (Asset, error) {
	if cid == "nobody-has-it" {
		<-ctx.Done()
		return Asset{}, errors.New("no providers found")
	}
	progress(Progress{Phase: "downloading", Done: 1, Total: 2})
	return Asset{CID: cid, Name: "scene", Size: 2, Complete: true}, nil
}

func (f *fakeAssets) Export(cid, dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exported = dir
	return nil
}

func (f *fakeAssets) List() ([]Asset, error) {
	return []Asset{{CID: "bafyone", Name: "textures", Size: 3 << 20, Files: 12, Complete: true}}, nil
}

func (f *fakeAssets) Pin(cid string, pinned bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pinned == nil {
		f.pinned = map[string]bool{}
	}
	f.pinned[cid] = pinned
	return nil
}

// fakeJobs holds one published job, "job-1", of four frames: 0 and 1
// verified, 2 rendering, 3 failed; and one job announced by another peer.
type fakeJobs struct {
	mu        sync.Mutex
	published []PublishRequest
	controls  []string
	jobs      []JobStatus
}

func newFakeJobs() *fakeJobs {
	created := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	return &fakeJobs{jobs: []JobStatus{
		{ID: "job-1", Title: "Spinning cube", State: "running", Mine: true, Renderer: "builtin",
			Publisher: "12D3KooWTest", Created: created, ETASeconds: 95,
			Frames: FrameCounts{Total: 4, Verified: 2, Rendering: 1, Failed: 1},
			Errors: []TaskError{{Frame: 3, Peer: "12D3KooWOther", Reason: "renderer crashed: segfault", At: created}}},
		{ID: "job-other", Title: "Someone's film", State: "running", Renderer: "blender",
			Publisher: "12D3KooWStranger", Created: created, Working: true,
			Frames: FrameCounts{Total: 10, Queued: 7}},
	}}
}

func (f *fakeJobs) Publish(_ context.Context, req PublishRequest) (JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Scene == "" {
		return JobStatus{}, errors.New("no scene")
	}
	f.published = append(f.published, req)
	st := JobStatus{ID: fmt.Sprintf("job-%d", len(f.jobs)+1), Title: req.Title, State: "running", Mine: true,
		Renderer: req.Renderer, Publisher: "12D3KooWTest", Frames: FrameCounts{Total: 1, Queued: 1}}
	f.jobs = append(f.jobs, st)
	return st, nil
}

func (f *fakeJobs) List() []JobStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]JobStatus(nil), f.jobs...)
}

func (f *fakeJobs) Status(id string) (JobStatus, error) {
	for _, j := range f.List() {
		if j.ID == id {
			return j, nil
		}
	}
	return JobStatus{}, fmt.Errorf("no job %s", id)
}

func (f *fakeJobs) Control(_ context.Context, id, action string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.controls = append(f.controls, id+" "+action)
	for i := range f.jobs {
		if f.jobs[i].ID == id {
			f.jobs[i].State = map[string]string{"pause": "paused", "resume": "running", "cancel": "cancelled"}[action]
		}
	}
	return nil
}

func (f *fakeJobs) Fetch(id, dir string) (FetchResult, error) {
	return FetchResult{Written: []string{dir + "/frame_0000.png"}, Missing: []int{2, 3}}, nil
}

func (f *fakeJobs) Frames(id string) ([]FrameState, error) {
	if id != "job-1" {
		return nil, fmt.Errorf("no job %s of this node", id)
	}
	return []FrameState{
		{Frame: 0, State: FrameVerified, Progress: 1},
		{Frame: 1, State: FrameVerified, Progress: 1},
		{Frame: 2, State: FrameRendering, Progress: 0.4},
		{Frame: 3, State: FrameFailed, Error: "renderer crashed: segfault"},
	}, nil
}

func (f *fakeJobs) FrameImage(id string, frame int, thumb bool) ([]byte, error) {
	if id != "job-1" || frame > 1 {
		return nil, fmt.Errorf("frame %d of %s is not verified", frame, id)
	}
	size := 64
	if thumb {
		size = 16
	}
	return testPNG(size, color.RGBA{uint8(80 + 100*frame), 120, 200, 255}), nil
}

// testPNG is a size×size image of one colour.
func testPNG(size int, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range size * size {
		img.Set(i%size, i/size, c)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

type fakeCredits struct{}

func (fakeCredits) Balance() (Balance, error) {
	return Balance{Balance: 42.5, Earned: 60, Spent: 17.5}, nil
}

func (fakeCredits) Receipts(limit int) ([]Receipt, error) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var out []Receipt
	for i := range min(limit, 6) {
		role := "volunteer"
		if i == 3 {
			role = "publisher"
		}
		out = append(out, Receipt{Role: role, Counterpart: "12D3KooWOther", Task: fmt.Sprintf("job-x/%d", i),
			CU: float64(5 + 3*i), Issued: t0.Add(time.Duration(i) * time.Hour), Countersigned: true})
	}
	return out, nil
}

type fakeVolunteer struct {
	mu       sync.Mutex
	settings Settings
	updates  []Settings
	preview  []byte
}

func (f *fakeVolunteer) Settings() Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings
}

func (f *fakeVolunteer) UpdateSettings(_ context.Context, s Settings) (Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings = s
	f.updates = append(f.updates, s)
	return s, nil
}

func (f *fakeVolunteer) lastUpdate() (Settings, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.updates) == 0 {
		return Settings{}, false
	}
	return f.updates[len(f.updates)-1], true
}

func (f *fakeVolunteer) Activity() Activity {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := Activity{State: StateRendering, CPUPercent: 187.5, MemoryBytes: 412 << 20, Rendered: 9,
		Renderers: []Renderer{
			{Name: "builtin", Version: "1", Installed: true, Offered: true},
			{Name: "blender", Version: "3.4.1", Installed: true, Offered: f.settings.AllowUnsandboxed,
				Sandbox: "bubblewrap does not work here: no user namespaces"},
			{Name: "povray", Problem: "povray not found in PATH"},
		},
		Renders: []ActiveRender{{Job: "job-other", Title: "Someone's film", Publisher: "12D3KooWStranger",
			Frame: 7, Phase: "rendering", Progress: 0.63, Started: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}}}
	if f.settings.Paused {
		a.State, a.Renders = StatePaused, nil
	}
	return a
}

func (f *fakeVolunteer) Preview() ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.preview, f.preview != nil
}

// backend is the fake node behind a test server.
type backend struct {
	node      *fakeNode
	assets    *fakeAssets
	jobs      *fakeJobs
	volunteer *fakeVolunteer
	colls     *fakeCollections
}

func newBackend() *backend {
	return &backend{
		node:      &fakeNode{peers: []Peer{{PeerID: "12D3KooWOther", State: "direct", Renderers: []string{"builtin", "blender"}}}},
		assets:    &fakeAssets{},
		jobs:      newFakeJobs(),
		colls:     &fakeCollections{},
		volunteer: &fakeVolunteer{preview: testPNG(32, color.RGBA{200, 90, 40, 255})},
	}
}

func (b *backend) server(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(Config{Token: testToken, Node: b.node, Assets: b.assets, Jobs: b.jobs,
		Credits: fakeCredits{}, Volunteer: b.volunteer, Sharing: b.colls, Collections: b.colls})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeCollections is a node with one collection of its own and one of
// another's, in two versions.
type fakeCollections struct {
	mu        sync.Mutex
	published []PublishCollectionRequest
	follows   map[string]bool
}

const fakeOwner = "12D3KooWArtist"

func (f *fakeCollections) List() ([]Collection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []Collection{{Owner: "12D3KooWTest", Name: "props", Head: 1, Listing: "bafyprops1", Mine: true}}
	for _, p := range f.published {
		out[0].Head++
		out[0].Name = p.Name
	}
	out = append(out, Collection{Owner: fakeOwner, Name: "textures", Head: 2, Listing: "bafytex2",
		Followed: f.follows[fakeOwner+"/textures"]})
	return out, nil
}

func (f *fakeCollections) Publish(_ context.Context, name, dir string, version uint64) (Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, PublishCollectionRequest{Name: name, Dir: dir, Version: version})
	return Version{Ref: "12D3KooWTest/" + name + "@2", Name: name, Version: 2, Listing: "bafynew"}, nil
}

func (f *fakeCollections) Versions(_ context.Context, ref string) ([]Version, error) {
	if ref != fakeOwner+"/textures" {
		return nil, errors.New("unknown collection")
	}
	return []Version{
		{Ref: ref + "@2", Owner: fakeOwner, Name: "textures", Version: 2, Listing: "bafytex2", Created: time.Unix(1.7e9, 0), Stored: true},
		{Ref: ref + "@1", Owner: fakeOwner, Name: "textures", Version: 1, Listing: "bafytex1", Created: time.Unix(1.6e9, 0)},
	}, nil
}

func (f *fakeCollections) Follow(ref string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.follows == nil {
		f.follows = map[string]bool{}
	}
	f.follows[ref] = on
	return nil
}

func (f *fakeCollections) Record(string) ([]byte, error)  { return []byte(`{}`), nil }
func (f *fakeCollections) Import([]byte) (Version, error) { return Version{}, errors.New("not here") }

func (f *fakeCollections) Stats() TransferStats            { return TransferStats{Downloaded: 3000} }
func (f *fakeCollections) Torrent(string) ([]byte, error)  { return []byte("d4:infode"), nil }
func (f *fakeCollections) Magnet(c string) (string, error) { return "magnet:?xt=urn:btih:" + c, nil }
func (f *fakeCollections) AddTorrent(context.Context, string, string) (Asset, error) {
	return Asset{}, errors.New("not here")
}

func (f *fakeCollections) Diff(_ context.Context, a, b string) (Diff, error) {
	if a != "bafytex1" || b != "bafytex2" {
		return Diff{}, errors.New("unknown listings")
	}
	return Diff{From: a, To: b, Bytes: 3000, Changes: []Change{{Path: "wood/albedo.png", Kind: "changed", Size: 3000}}}, nil
}
