// Package gui is the node's local HTTP API (JSON), its live event stream and
// web app, and the Go client the command line uses.
//
// The API listens on loopback only. Every request must carry the node's
// token (Authorization: Bearer, kept in the home's api file) and a Host
// header naming a loopback address, so a web page from another origin can
// neither read nor drive it (DNS rebinding included).
//
// Long operations (fetching an asset) answer with a stream of
// newline-delimited JSON events: progress lines, then one final line with the
// result or an error, so that the CLI can draw progress bars over plain HTTP.
//
// gui declares the small interfaces it needs (NodeInfo, Assets) and the node
// supplies them; it must not import node, assets, p2p or cmd.
package gui
