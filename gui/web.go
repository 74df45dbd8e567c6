package gui

import (
	"embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
)

// web holds the web app: plain HTML, CSS and JavaScript, no build step.
//
//go:embed web
var web embed.FS

// webFiles is the web directory's content, served at the root.
var webFiles, _ = fs.Sub(web, "web")

// isPage reports whether urlPath is the web app itself (the index or one of
// its files), which is served without a token; everything else is API.
func isPage(urlPath string) bool {
	if urlPath == "/" {
		return true
	}
	name := path.Clean(urlPath)[1:]
	if name == "" || name == "." || path.Clean(urlPath) != urlPath {
		return false
	}
	st, err := fs.Stat(webFiles, name)
	return err == nil && !st.IsDir()
}

// handleIndex serves the app and the session cookie its requests use, to
// the node's own user only when the system tells who is calling.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if uid, known := s.owner(local, r.RemoteAddr); known && uid != os.Getuid() {
			http.Error(w, fmt.Sprintf("This renderswarm node belongs to another user of this machine (you are uid %d).", uid), http.StatusForbidden)
			return
		}
	}
	b, err := fs.ReadFile(webFiles, "index.html")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	http.SetCookie(w, s.sessionCookie())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// staticFiles serves the app's scripts and styles; anything else under the
// root that is not the API is not found.
func staticFiles() http.Handler {
	files := http.FileServerFS(webFiles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isPage(r.URL.Path) || r.URL.Path == "/index.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
