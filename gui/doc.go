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
// What this does not protect against: another user of the same machine can
// load the page, and with it the cookie, as the CLI's api file cannot be
// read by them but the loopback port can be reached; and cookies are not
// scoped by port, so two nodes on one machine overwrite each other's
// session (the page reloads itself, and so gets its own, on a 401).
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
