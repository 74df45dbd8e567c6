package gui

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestJobEndpoints(t *testing.T) {
	b := newBackend()
	ts := httptest.NewServer(b.server(t))
	defer ts.Close()
	c := testClient(t, ts, testToken)
	ctx := context.Background()

	req := PublishRequest{Scene: "/home/u/cube.pov", Renderer: "povray", Frames: "1-4", Replicas: 2,
		Resolution: "320x240", Samples: 16, Tiles: 2, Title: "cube", TimeLimit: "90s"}
	st, err := c.Publish(ctx, req)
	if err != nil || st.Title != "cube" || len(b.jobs.published) != 1 || !reflect.DeepEqual(b.jobs.published[0], req) {
		t.Fatalf("Publish = %+v, %v; backend got %+v", st, err, b.jobs.published)
	}
	if _, err := c.Publish(ctx, PublishRequest{}); err == nil {
		t.Fatal("publishing no scene was accepted")
	}
	list, err := c.Jobs(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("Jobs = %+v, %v", list, err)
	}
	if st, err := c.Status(ctx, "job-1"); err != nil || st.Errors[0].Reason == "" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	var ae *APIError
	if _, err := c.Status(ctx, "nope"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("Status of an unknown job: %v, want 404", err)
	}
	if err := c.Control(ctx, "job-1", "pause"); err != nil || b.jobs.controls[0] != "job-1 pause" {
		t.Fatalf("Control: %v, backend got %v", err, b.jobs.controls)
	}
	if res, err := c.Fetch(ctx, "job-1", "/tmp/out"); err != nil || len(res.Missing) != 2 {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	frames, err := c.Frames(ctx, "job-1")
	if err != nil || len(frames) != 4 || frames[2].State != FrameRendering {
		t.Fatalf("Frames = %+v, %v", frames, err)
	}
	if _, err := c.Frames(ctx, "job-other"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("Frames of another's job: %v, want 404", err)
	}
}

func TestFrameImages(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	for path, size := range map[string]int{"/api/jobs/job-1/frames/1": 64, "/api/jobs/job-1/frames/0/thumb": 16} {
		resp, body := request(t, ts, "GET", path, "", bearer)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		img, err := png.Decode(strings.NewReader(body))
		if err != nil || img.Bounds().Dx() != size {
			t.Fatalf("GET %s: %v, want a %d pixel PNG", path, err, size)
		}
	}
	for path, want := range map[string]int{
		"/api/jobs/job-1/frames/2":     404, // rendering
		"/api/jobs/job-1/frames/x":     400,
		"/api/jobs/job-1/frames/-1":    400,
		"/api/jobs/nope/frames/0":      404,
		"/api/jobs/nope/frames.zip":    404,
		"/api/volunteer/preview":       200,
		"/api/jobs/job-1/frames/0/big": 404,
	} {
		if resp, body := request(t, ts, "GET", path, "", bearer); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
		}
	}
}

func TestFramesZipHoldsTheVerifiedFrames(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	resp, body := request(t, ts, "GET", "/api/jobs/job-1/frames.zip", "", map[string]string{"Cookie": cookie})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		img, err := png.Decode(rc)
		rc.Close()
		if err != nil || img.Bounds().Dx() != 64 {
			t.Errorf("%s: %v, want the full 64 pixel frame", f.Name, err)
		}
	}
	if !slices.Equal(names, []string{"frame_0000.png", "frame_0001.png"}) {
		t.Fatalf("zip holds %v, want the two verified frames", names)
	}
}

func TestSettingsEndpoints(t *testing.T) {
	b := newBackend()
	ts := httptest.NewServer(b.server(t))
	defer ts.Close()
	c := testClient(t, ts, testToken)
	ctx := context.Background()
	want := Settings{CPUs: 1, Mode: ModeSchedule, Schedule: "22:00-07:30", CacheQuota: 5 << 30,
		MaxUploadRate: 1 << 20, Renderers: []string{"builtin"}, BlockedJobs: []string{"job-x"}}
	got, err := c.UpdateSettings(ctx, want)
	if err != nil || got.Schedule != want.Schedule {
		t.Fatalf("UpdateSettings = %+v, %v", got, err)
	}
	if last, _ := b.volunteer.lastUpdate(); last.CPUs != 1 || last.CacheQuota != 5<<30 || last.BlockedJobs[0] != "job-x" {
		t.Fatalf("volunteer got %+v", last)
	}
	if s, err := c.Settings(ctx); err != nil || s.Mode != ModeSchedule {
		t.Fatalf("Settings = %+v, %v", s, err)
	}
	if a, err := c.Activity(ctx); err != nil || a.State != StateRendering || len(a.Renderers) != 3 {
		t.Fatalf("Activity = %+v, %v", a, err)
	}
	if n, err := c.Network(ctx); err != nil || n.RoutingPeers != 3 {
		t.Fatalf("Network = %+v, %v", n, err)
	}
}

func TestSettingsValidation(t *testing.T) {
	b := newBackend()
	ts := httptest.NewServer(b.server(t))
	defer ts.Close()
	for body, wantErr := range map[string]string{
		`{"cpus":-1}`: "cpus -1",
		`{"cpus":` + strconv.Itoa(runtime.NumCPU()+1) + `}`: "want 0 (all) to",
		`{"mode":"sometimes"}`:                              `mode "sometimes"`,
		`{"mode":"schedule"}`:                               "want a daily window",
		`{"mode":"schedule","schedule":"22:00"}`:            "want a daily window",
		`{"mode":"schedule","schedule":"25:00-07:00"}`:      "want a daily window",
		`{"mode":"schedule","schedule":"9:00-17:00"}`:       "want a daily window",
		`{"mode":"schedule","schedule":"09:00-09:00"}`:      "empty",
		`{"idle_minutes":-5}`:                               "idle minutes",
		`{"cache_quota":-1}`:                                "cache quota",
		`{"max_upload_rate":-1}`:                            "upload rate",
		`{"cpus":"two"}`:                                    "bad request body",
	} {
		resp, got := request(t, ts, "PUT", "/api/settings", body, bearer)
		var eb errorBody
		json.Unmarshal([]byte(got), &eb)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(eb.Error, wantErr) || strings.Contains(eb.Error, "\n") {
			t.Errorf("PUT %s: %d %q, want 400 with a line containing %q", body, resp.StatusCode, eb.Error, wantErr)
		}
	}
	if _, ok := b.volunteer.lastUpdate(); ok {
		t.Fatal("invalid settings reached the volunteer")
	}
	for _, body := range []string{`{}`, `{"cpus":0,"mode":"idle","idle_minutes":5}`, `{"mode":"always","schedule":"23:00-01:00"}`} {
		if resp, got := request(t, ts, "PUT", "/api/settings", body, bearer); resp.StatusCode != 200 {
			t.Errorf("PUT %s: %d %s", body, resp.StatusCode, got)
		}
	}
}

// A node started with --no-volunteer has no Volunteer: its settings are
// not found, its activity says so, and the rest of the API works.
func TestNoVolunteer(t *testing.T) {
	b := newBackend()
	s, err := NewServer(Config{Token: testToken, Node: b.node, Assets: b.assets, Jobs: b.jobs, Credits: fakeCredits{}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	for path, want := range map[string]int{"/api/settings": 404, "/api/volunteer/preview": 404, "/api/jobs": 200} {
		if resp, _ := request(t, ts, "GET", path, "", bearer); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if a, err := testClient(t, ts, testToken).Activity(context.Background()); err != nil || a.State != StateDisabled {
		t.Fatalf("Activity = %+v, %v", a, err)
	}
}

func TestBrowse(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "scenes"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.blend"), []byte("12345"), 0o644)
	os.WriteFile(filepath.Join(dir, "A.pov"), []byte("1"), 0o644)
	os.Symlink(filepath.Join(dir, "scenes"), filepath.Join(dir, "link"))
	_, body := request(t, ts, "GET", "/api/browse?path="+dir+"/scenes/..", "", bearer)
	var l Listing
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []DirEntry{{Name: "link", Dir: true}, {Name: "scenes", Dir: true}, {Name: "A.pov", Size: 1}, {Name: "b.blend", Size: 5}}
	if l.Path != dir || l.Parent != filepath.Dir(dir) || !slices.Equal(l.Entries, want) {
		t.Fatalf("listing = %+v, want %s holding %+v", l, dir, want)
	}
	home, _ := os.UserHomeDir()
	if _, body := request(t, ts, "GET", "/api/browse", "", bearer); home != "" && !strings.Contains(body, `"path":"`+home+`"`) {
		t.Errorf("default listing %s, want the home %s", body, home)
	}
	for q, want := range map[string]int{"relative/dir": 400, dir + "/missing": 404, dir + "/A.pov": 404} {
		if resp, _ := request(t, ts, "GET", "/api/browse?path="+q, "", bearer); resp.StatusCode != want {
			t.Errorf("browse %s: %d, want %d", q, resp.StatusCode, want)
		}
	}
}

func TestCreditsLimit(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	for q, want := range map[string]int{"": 6, "?limit=2": 2, "?limit=1000": 6} {
		_, body := request(t, ts, "GET", "/api/credits"+q, "", bearer)
		var r CreditsReport
		if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&r); err != nil || len(r.Receipts) != want || r.Balance.Balance != 42.5 {
			t.Errorf("credits%s: %d receipts, %v (%s), want %d", q, len(r.Receipts), err, body, want)
		}
	}
	if resp, _ := request(t, ts, "GET", "/api/credits?limit=-3", "", bearer); resp.StatusCode != 400 {
		t.Errorf("negative limit: %d, want 400", resp.StatusCode)
	}
}
