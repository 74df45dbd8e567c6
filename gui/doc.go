// Package gui is the node's local HTTP API (JSON), its live event stream and
// web app, and the Go client the command line uses.
//
// # Who may call it
//
// The server listens on loopback only, and every request, the web app's
// included, must carry a Host header naming a loopback address: a page from
// another origin whose DNS name is rebound to 127.0.0.1 sends its own name
// and is refused.
//
// The API needs the node's token (kept in the home's api file, readable by
// the user only). The command line sends it as Authorization: Bearer.
//
// The web app (GET / and its script and style sheet, embedded from
// gui/web) needs no token, so that the URL `renderswarm id` prints just
// works in a browser. The index response sets the cookie
// renderswarm_session=<token> (HttpOnly, SameSite=Strict, Path=/), and the
// page's fetch, EventSource and image requests authenticate with it. The
// browser sends a cookie whoever made the request, so a request
// authenticated by the cookie alone must also come from the app itself:
// it is refused when Sec-Fetch-Site is present and neither same-origin nor
// none (the user typed the URL), and a POST, PUT or DELETE is refused when
// its Origin is present and not http://<its own Host>. A request with a
// wrong Bearer token is refused without looking at the cookie.
//
// Every response forbids framing (X-Frame-Options, frame-ancestors), allows
// the page only its own scripts, styles and images (Content-Security-Policy
// default-src 'self'; img-src 'self' data:), and sets nosniff and
// no-referrer. There are no CORS headers, ever.
//
// The loopback port is open to every user of the machine, while the api
// file is the node user's alone: so the index hands out the cookie only
// when the other end of the connection belongs to the node's own user. On
// Linux the server looks that up in /proc/net/tcp; where the system does
// not tell, it serves the cookie to any local caller (and the token then
// guards against web pages, not against other users of the machine).
// Cookies are not scoped by port, so two nodes on one machine overwrite
// each other's session; the page reloads itself, and so gets its own, on a
// 401.
//
// # Endpoints
//
//	GET  /                              the web app (and its modules, /*.js, and /style.css)
//	GET  /api/id, /api/peers, /api/network
//	GET  /api/events                    server-sent Snapshot stream
//	GET  /api/assets                    POST /api/assets (add), /api/assets/get (NDJSON), /api/assets/pin
//	GET  /api/jobs, /api/jobs/{id}      POST /api/jobs (publish), /api/jobs/{id}/{pause,resume,cancel,fetch}
//	GET  /api/jobs/{id}/frames          []FrameState of a job this node published
//	GET  /api/jobs/{id}/frames/{n}      verified frame as PNG; .../{n}/thumb at most 160 px
//	GET  /api/jobs/{id}/frames.zip      every verified frame, frame_NNNN.png
//	GET  /api/settings                  PUT /api/settings (validated, applied at once)
//	GET  /api/activity                  what the volunteer does now
//	GET  /api/volunteer/preview         last rendered image (PNG), 404 before the first
//	GET  /api/credits?limit=N           balance and the latest N receipts (default 100)
//	GET  /api/browse?path=DIR           directories and files of DIR (default: home)
//
// # Streams
//
// Long operations (fetching an asset) answer with a stream of
// newline-delimited JSON events: progress lines, then one final line with the
// result or an error, so that the CLI can draw progress bars over plain HTTP.
// GET /api/events is a server-sent event stream of the node's Snapshot for
// the web app, sent when it changed (looked at every second).
//
// gui declares the small interfaces it needs (NodeInfo, Assets, Jobs,
// Credits, Volunteer) and the node supplies them; it must not import node,
// assets, p2p or cmd.
package gui
