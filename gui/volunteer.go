package gui

import (
	"context"
	"time"
)

// Volunteer is what the API needs of the node's volunteer side: its live
// settings and what it is doing now.
type Volunteer interface {
	// Settings are the volunteer settings in effect.
	Settings() Settings
	// UpdateSettings applies s at once, without a restart, and persists it
	// in the node's home; it answers the settings now in effect. A render
	// in progress when s pauses the volunteer (or takes its renderer or
	// cores away) is stopped and its lease handed back to the publisher.
	UpdateSettings(ctx context.Context, s Settings) (Settings, error)
	// Activity is what the volunteer does right now.
	Activity() Activity
	// Preview is the last image this volunteer rendered, as a PNG no
	// larger than 320 pixels on its longer side; ok is false before the
	// first render.
	Preview() (png []byte, ok bool)
}

// Volunteering modes (Settings.Mode).
const (
	ModeAlways   = "always"   // render whenever there is work
	ModeIdle     = "idle"     // render only while the machine is otherwise idle
	ModeSchedule = "schedule" // render only inside Settings.Schedule
)

// Settings are a volunteer's user-controlled settings. The zero value of a
// field means its default, as documented.
type Settings struct {
	CPUs          int    `json:"cpus"`            // cores given to rendering; 0 means all
	Mode          string `json:"mode"`            // ModeAlways (default), ModeIdle or ModeSchedule
	IdleMinutes   int    `json:"idle_minutes"`    // ModeIdle: how long the machine must be idle first; 0 means 2
	Schedule      string `json:"schedule"`        // ModeSchedule: daily window "HH:MM-HH:MM", local time; may wrap midnight
	Paused        bool   `json:"paused"`          // pause now, whatever the mode
	CacheQuota    int64  `json:"cache_quota"`     // bytes of unpinned assets kept; 0 means the default
	MaxUploadRate int64  `json:"max_upload_rate"` // bytes/s; 0 means unlimited
	// Renderers lists the renderer names offered to other publishers; nil
	// means every installed renderer. A renderer without a working
	// sandbox is offered only with AllowUnsandboxed.
	Renderers []string `json:"renderers"`
	// AllowUnsandboxed lets Blender and POV-Ray render strangers' scenes
	// even where their sandbox does not work: a scene could then read
	// and write the user's files.
	AllowUnsandboxed bool `json:"allow_unsandboxed"`
	// MaxMemory caps the memory of a render for others, in bytes, below
	// the job's own limit; 0 means the default (4 GiB).
	MaxMemory         int64    `json:"max_memory"`
	BlockedPublishers []string `json:"blocked_publishers"` // peer IDs never rendered for
	BlockedJobs       []string `json:"blocked_jobs"`       // job IDs never rendered
}

// Volunteer states (Activity.State).
const (
	StateRendering   = "rendering"        // at least one task leased
	StateWaiting     = "waiting for work" // volunteering, nothing to do
	StatePaused      = "paused"           // Settings.Paused
	StateBusy        = "machine in use"   // ModeIdle and the machine is not idle
	StateOffSchedule = "outside schedule" // ModeSchedule and outside the window
	StateDisabled    = "not volunteering" // the node runs with --no-volunteer
)

// Activity is what the volunteer is doing now and what it costs the
// machine.
type Activity struct {
	State       string         `json:"state"`
	Renders     []ActiveRender `json:"renders"`
	CPUPercent  float64        `json:"cpu_percent"`  // node and renderers, percent of one core, last few seconds
	MemoryBytes int64          `json:"memory_bytes"` // resident memory of the node and its renderers
	UsageKnown  bool           `json:"usage_known"`  // false where the system does not tell CPU and memory use (then both are 0)
	Renderers   []Renderer     `json:"renderers"`    // every backend, installed or not
	Rendered    int            `json:"rendered"`     // tasks delivered since the node started
}

// ActiveRender is one task this volunteer holds a lease for.
type ActiveRender struct {
	Job       string    `json:"job"`
	Title     string    `json:"title"`
	Publisher string    `json:"publisher"`
	Frame     int       `json:"frame"`
	Tile      int       `json:"tile"`
	Phase     string    `json:"phase"`    // "fetching scene", "rendering", "delivering"
	Progress  float64   `json:"progress"` // 0..1 of the render phase
	Threads   int       `json:"threads"`  // cores the render uses (0 until it starts)
	Started   time.Time `json:"started"`
}

// Renderer is one renderer backend on this machine.
type Renderer struct {
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"` // exact version; empty when not installed
	Installed bool   `json:"installed"`
	Offered   bool   `json:"offered"`           // installed, in Settings.Renderers and sandboxed (or allowed unsandboxed)
	Problem   string `json:"problem,omitempty"` // why it is not installed or usable
	// Sandbox is SandboxWorking or why this renderer's sandbox does not
	// work; empty for a renderer that needs none (builtin) or is missing.
	Sandbox string `json:"sandbox,omitempty"`
}

// Network is the node's view of the swarm: reachability and relays.
type Network struct {
	Peers        int      `json:"peers"`         // connected peers
	RoutingPeers int      `json:"routing_peers"` // peers in the DHT routing table
	Reachability string   `json:"reachability"`  // "public", "private" or "unknown" (AutoNAT)
	Relays       []string `json:"relays"`        // relay addresses this node is reachable through
	ListenAddrs  []string `json:"listen_addrs"`
}
