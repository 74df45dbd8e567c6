package gui

import "time"

// ID is the node's identity as `renderswarm id --json` prints it.
type ID struct {
	PeerID  string   `json:"peer_id"`
	Addrs   []string `json:"addrs"`
	GUI     string   `json:"gui"`
	Sandbox Sandbox  `json:"sandbox"`
}

// SandboxWorking is Sandbox.Renderers' word for a renderer whose sandbox
// works.
const SandboxWorking = "working"

// Sandbox says whether strangers' scenes render in a sandbox on this node,
// as checked at start (DESIGN.md §4).
type Sandbox struct {
	// Working: every installed renderer that runs a program on the scene
	// (Blender, POV-Ray) runs it in a sandbox seen working.
	Working bool `json:"working"`
	// Problem is why not, in one line; empty when Working.
	Problem string `json:"problem,omitempty"`
	// Renderers maps each installed renderer that needs a sandbox to
	// SandboxWorking or why its sandbox does not work.
	Renderers map[string]string `json:"renderers"`
	// AllowUnsandboxed: the user lets renderers without a working sandbox
	// render strangers' scenes all the same (Settings.AllowUnsandboxed).
	AllowUnsandboxed bool `json:"allow_unsandboxed"`
}

// Peer is one connected peer.
type Peer struct {
	PeerID    string   `json:"peer_id"`
	Addrs     []string `json:"addrs"`
	Agent     string   `json:"agent,omitempty"`
	LatencyMS float64  `json:"latency_ms,omitempty"`
	Renderers []string `json:"renderers,omitempty"`
	State     string   `json:"state"`
}

// Asset describes one asset in the node's store.
type Asset struct {
	CID      string    `json:"cid"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Files    int       `json:"files"`
	Pinned   bool      `json:"pinned"`
	Complete bool      `json:"complete"`
	Listing  bool      `json:"listing,omitempty"` // files addressed one by one
	Added    time.Time `json:"added"`
}

// Progress reports a long operation.
type Progress struct {
	Phase string  `json:"phase"`
	Done  int64   `json:"done"`
	Total int64   `json:"total"`
	Peers int     `json:"peers"`
	Rate  float64 `json:"rate"`
}

// AddAssetsRequest asks the node to make paths (absolute, on the node's
// machine) one asset.
type AddAssetsRequest struct {
	Paths []string `json:"paths"`
}

// GetAssetRequest asks the node to fetch an asset by CID (or a collection's
// version, OWNER/NAME[@VERSION]), verify it and,
// when Out is set, write its files under that directory.
type GetAssetRequest struct {
	CID     string `json:"cid"`
	Out     string `json:"out,omitempty"`
	Timeout string `json:"timeout,omitempty"` // Go duration; empty means 10m
}

// PinRequest pins or unpins an asset.
type PinRequest struct {
	CID    string `json:"cid"`
	Pinned bool   `json:"pinned"`
}

// Event is one line of a streamed answer: progress, then a final Asset or
// Error.
type Event struct {
	Progress *Progress `json:"progress,omitempty"`
	Asset    *Asset    `json:"asset,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// errorBody is the JSON body of a failed request.
type errorBody struct {
	Error string `json:"error"`
}
