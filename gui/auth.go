package gui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// SessionCookie is the cookie through which the web app's requests carry
// the token; the index page sets it.
const SessionCookie = "renderswarm_session"

// contentSecurityPolicy allows the page only its own scripts, styles and
// images (and data: images), with no inline code and no framing.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"

// ServeHTTP checks the Host header and, for the API, the caller's
// credentials, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !loopbackHost(r.Host) {
		writeError(w, http.StatusForbidden, fmt.Errorf("host %q not allowed: the API answers only on loopback", r.Host))
		return
	}
	if !isPage(r.URL.Path) {
		if code, err := s.authenticate(r); err != nil {
			writeError(w, code, err)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.mux.ServeHTTP(w, r)
}

// authenticate accepts a request that carries the token, either as a Bearer
// token (the CLI) or in the session cookie (the web app). A cookie is sent
// by the browser whoever made the page, so a request that relies on it must
// also come from the app's own origin.
func (s *Server) authenticate(r *http.Request) (int, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || !s.validToken(tok) {
			return http.StatusUnauthorized, errors.New("missing or wrong API token")
		}
		return 0, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || !s.validToken(c.Value) {
		return http.StatusUnauthorized, errors.New("missing or wrong API token")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return http.StatusForbidden, fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s)", site)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
			return http.StatusForbidden, fmt.Errorf("request from origin %q refused", origin)
		}
	}
	return 0, nil
}

func (s *Server) validToken(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
}

// sessionCookie hands the token to the page's later requests: HttpOnly
// keeps it from scripts, SameSite=Strict from other sites' requests.
func (s *Server) sessionCookie() *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    s.cfg.Token,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

// loopbackHost reports whether a Host header names a loopback address.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
