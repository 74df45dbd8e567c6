package gui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// request sends one request to ts with the given headers ("Cookie" and
// "Host" included) and returns the response with its body read.
func request(t *testing.T, ts *httptest.Server, method, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	bearer = map[string]string{"Authorization": "Bearer " + testToken}
	cookie = "renderswarm_session=" + testToken
)

func TestPageNeedsNoTokenAndSetsSessionCookie(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	resp, body := request(t, ts, "GET", "/", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "app.js") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, body)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			session = c
		}
	}
	if session == nil || session.Value != testToken || !session.HttpOnly ||
		session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie = %+v, want the token, HttpOnly, SameSite=Strict, Path=/", session)
	}
	for _, f := range []string{"/app.js", "/util.js", "/jobs.js", "/style.css"} {
		resp, body := request(t, ts, "GET", f, "", nil)
		if resp.StatusCode != http.StatusOK || body == "" || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: %d, %d bytes, Set-Cookie %q", f, resp.StatusCode, len(body), resp.Header.Get("Set-Cookie"))
		}
	}
	for _, p := range []string{"/nothing.js", "/web/app.js", "/api", "/api/nothing"} {
		if resp, _ := request(t, ts, "GET", p, "", nil); resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s without a token: 200", p)
		}
	}
}

func TestEveryResponseCarriesSecurityHeaders(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	want := map[string]string{
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for _, tc := range []struct {
		path string
		hdr  map[string]string
	}{
		{"/", nil}, {"/app.js", nil}, {"/api/id", bearer}, {"/api/id", nil},
		{"/", map[string]string{"Host": "evil.example"}},
	} {
		resp, _ := request(t, ts, "GET", tc.path, "", tc.hdr)
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s %v: %s = %q, want %q", tc.path, tc.hdr, k, got, v)
			}
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("GET %s: CORS header %s", tc.path, k)
			}
		}
	}
}

func TestAuth(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	origin := "http://" + strings.TrimPrefix(ts.URL, "http://")
	settings := `{"cpus":1,"mode":"always"}`
	for _, tc := range []struct {
		name         string
		method, path string
		hdr          map[string]string
		want         int
	}{
		{"no token", "GET", "/api/id", nil, 401},
		{"wrong bearer", "GET", "/api/id", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"basic auth", "GET", "/api/id", map[string]string{"Authorization": "Basic " + testToken}, 401},
		{"wrong cookie", "GET", "/api/id", map[string]string{"Cookie": "renderswarm_session=nope"}, 401},
		{"wrong bearer, right cookie", "GET", "/api/id", map[string]string{"Authorization": "Bearer nope", "Cookie": cookie}, 401},
		{"bearer", "GET", "/api/id", bearer, 200},
		{"bearer ignores fetch metadata", "PUT", "/api/settings", map[string]string{"Authorization": "Bearer " + testToken,
			"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 200},
		{"cookie", "GET", "/api/id", map[string]string{"Cookie": cookie}, 200},
		{"cookie same-origin", "GET", "/api/id", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}, 200},
		{"cookie typed in the address bar", "GET", "/api/id", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "none"}, 200},
		{"cookie cross-site", "GET", "/api/id", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403},
		{"cookie same-site", "GET", "/api/jobs", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site"}, 403},
		{"cookie cross-site image", "GET", "/api/volunteer/preview", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403},
		{"cookie PUT same origin", "PUT", "/api/settings", map[string]string{"Cookie": cookie, "Origin": origin, "Sec-Fetch-Site": "same-origin"}, 200},
		{"cookie PUT foreign origin", "PUT", "/api/settings", map[string]string{"Cookie": cookie, "Origin": "http://evil.example"}, 403},
		{"cookie POST foreign origin", "POST", "/api/jobs/job-1/cancel", map[string]string{"Cookie": cookie, "Origin": "http://localhost:1"}, 403},
		{"cookie POST null origin", "POST", "/api/jobs/job-1/cancel", map[string]string{"Cookie": cookie, "Origin": "null"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ""
			if tc.method != "GET" {
				body = settings
				if strings.HasSuffix(tc.path, "cancel") {
					body = "{}"
				}
			}
			resp, got := request(t, ts, tc.method, tc.path, body, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, got)
			}
		})
	}
}

// DNS rebinding: a page whose name resolves to 127.0.0.1 sends its own name
// in Host; the page is refused as the API is, so it never gets the cookie.
func TestPageRejectsForeignHost(t *testing.T) {
	ts := httptest.NewServer(newBackend().server(t))
	defer ts.Close()
	for _, p := range []string{"/", "/app.js"} {
		resp, _ := request(t, ts, "GET", p, "", map[string]string{"Host": "evil.example:80"})
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s with a foreign Host: %d, Set-Cookie %q", p, resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	}
	resp, _ := request(t, ts, "GET", "/", "", map[string]string{"Host": "localhost:8384"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / on localhost: %d", resp.StatusCode)
	}
}
