package gui

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testToken = "0123456789abcdef0123456789abcdef"

func newTestServer(t *testing.T) (*httptest.Server, *fakeAssets) {
	t.Helper()
	b := newBackend()
	ts := httptest.NewServer(b.server(t))
	t.Cleanup(ts.Close)
	return ts, b.assets
}

// testClient is a Client for ts, as the CLI would build from the api file.
func testClient(t *testing.T, ts *httptest.Server, token string) *Client {
	home := t.TempDir()
	if err := WriteEndpoint(home, Endpoint{URL: ts.URL + "/", Token: token}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(home, APIFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("api file mode %v, want 0600", st.Mode().Perm())
	}
	c, err := Dial(context.Background(), home)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAPIRejectsMissingOrWrongToken(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", testToken} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/id", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
	home := t.TempDir()
	WriteEndpoint(home, Endpoint{URL: ts.URL, Token: "wrong-token-wrong-token"})
	if _, err := Dial(context.Background(), home); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Dial with a wrong token: %v, want an error naming the token", err)
	}
}

// A page on another origin that rebinds its DNS name to 127.0.0.1 sends its
// own name in Host: refused even with the right token.
func TestAPIRejectsForeignHost(t *testing.T) {
	ts, _ := newTestServer(t)
	for host, want := range map[string]int{
		"evil.example:80":  http.StatusForbidden,
		"192.168.1.5:8384": http.StatusForbidden,
		"localhost:1234":   http.StatusOK,
		"127.0.0.1:1234":   http.StatusOK,
		"[::1]:1234":       http.StatusOK,
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/id", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestAPIEndpoints(t *testing.T) {
	ts, fa := newTestServer(t)
	c := testClient(t, ts, testToken)
	ctx := context.Background()

	id, err := c.ID(ctx)
	if err != nil || id.PeerID != "12D3KooWTest" {
		t.Fatalf("ID = %+v, %v", id, err)
	}
	peers, err := c.Peers(ctx)
	if err != nil || len(peers) != 1 || peers[0].PeerID != "12D3KooWOther" {
		t.Fatalf("Peers = %+v, %v", peers, err)
	}
	a, err := c.AddAssets(ctx, []string{"/tmp/textures"})
	if err != nil || a.CID != "bafyadded" || len(fa.added) != 1 {
		t.Fatalf("AddAssets = %+v, %v (added %v)", a, err, fa.added)
	}
	if _, err := c.AddAssets(ctx, nil); err == nil {
		t.Fatal("adding no paths was accepted")
	}
	list, err := c.Assets(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Assets = %+v, %v", list, err)
	}
	if err := c.Pin(ctx, "bafyone", true); err != nil || !fa.pinned["bafyone"] {
		t.Fatalf("Pin: %v, pinned %v", err, fa.pinned)
	}
	var steps []Progress
	got, err := c.GetAsset(ctx, GetAssetRequest{CID: "bafyget", Out: "/tmp/out"}, func(p Progress) { steps = append(steps, p) })
	if err != nil || got.CID != "bafyget" || fa.exported != "/tmp/out" {
		t.Fatalf("GetAsset = %+v, %v, exported to %q", got, err, fa.exported)
	}
	if len(steps) != 1 || steps[0].Done != 1 {
		t.Fatalf("progress events = %+v, want one", steps)
	}
}

func TestAPIGetGivesUpAfterTimeout(t *testing.T) {
	ts, _ := newTestServer(t)
	c := testClient(t, ts, testToken)
	_, err := c.GetAsset(context.Background(), GetAssetRequest{CID: "nobody-has-it", Timeout: "200ms"}, nil)
	if err == nil || !strings.Contains(err.Error(), "gave up after 200ms") {
		t.Fatalf("err = %v, want it to say it gave up after 200ms", err)
	}
	if _, err := c.GetAsset(context.Background(), GetAssetRequest{CID: "x", Timeout: "soon"}, nil); err == nil {
		t.Fatal("a bad timeout was accepted")
	}
}

func TestAPIRejectsOversizedAndUnknownBodies(t *testing.T) {
	ts, _ := newTestServer(t)
	for name, body := range map[string]string{
		"unknown field": `{"paths":["/x"],"rm":"-rf"}`,
		"oversized":     `{"paths":["` + strings.Repeat("a", maxBody) + `"]}`,
		"not json":      `paths=/x`,
	} {
		req, _ := http.NewRequest("POST", ts.URL+"/api/assets", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
}

func TestDialWithoutNode(t *testing.T) {
	_, err := Dial(context.Background(), t.TempDir())
	if !errors.Is(err, ErrNoNode) {
		t.Fatalf("err = %v, want ErrNoNode", err)
	}
	home := t.TempDir()
	WriteEndpoint(home, Endpoint{URL: "http://127.0.0.1:1/", Token: testToken})
	if _, err := Dial(context.Background(), home); !errors.Is(err, ErrNoNode) {
		t.Fatalf("stale api file: err = %v, want ErrNoNode", err)
	}
}
