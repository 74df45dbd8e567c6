// Package node is renderswarm's one composition root. It owns the home
// directory (identity, config.toml, database, asset store, api file),
// builds every component by hand, wires the small interfaces they declare,
// runs them until the context ends, persists the settings changed from the
// web app, adapts the components to the API's types, keeps the registry of
// renderer backends, and runs the demo swarm. It depends on nearly every
// package and must not be imported by any but cmd.
//
// # The map
//
//	cmd/renderswarm  the CLI: `node` runs node.Run; every other command is a
//	                 client of the running node's HTTP API (gui.Client)
//	node             this package: composition, lifecycle, settings, the demo
//	publisher        the publisher role: publish, the work protocol's server,
//	                 verification and crediting, the job store, status, fetch
//	volunteer        the volunteer role: offers and picking, the gate, leases
//	                 with heartbeats, render and commit, delivery, receipts
//	work             the work protocol: announcements, the typed client
//	                 volunteers use, the handler publishers serve, timings
//	gui              HTTP API, event stream, embedded web app, the CLI's client
//	p2p              libp2p host, private DHT, GossipSub, mDNS, NAT, streams
//	assets           content-addressed store: folders <-> listings and
//	                 torrents <-> CIDs, one copy of each file per node
//	collection       named, versioned collections: signed records,
//	                 gossip, lookups, following
//	scheduler        pure decisions: the coordinator of a job, the picker
//	credits          verification, receipts, the ledger, priorities
//	render           renderer backends (builtin, blender, povray), sandboxes
//	job              the leaf vocabulary: manifests, tasks, IDs, verdicts
//	internal/...     db (SQLite and migrations), clock, usage (CPU, idle),
//	                 imaging (thumbnails), fsutil, roletest (test fakes),
//	                 autostart (the node started at login; cmd's service)
//	dist             the release: dist/build, the Debian package's files
//
// # Who may import whom
//
// Lower packages never import node or cmd. publisher and volunteer never
// import each other, gui, node or cmd, and speak to each other only through
// work's client and wire messages; only node imports them. gui imports no
// component: node adapts each to the interface gui declares. scheduler and
// credits hold no sockets and read no clock; they, and both roles, take
// their time from a clock they are given. job imports only the standard
// library, go-cid, go-multihash and libp2p's core types. Only p2p
// constructs libp2p; only assets imports anacrolix/torrent. The whole table
// is test/deps_test.go.
//
// # Strangers' scenes
//
// At open the node asks each installed renderer that runs a program
// whether its sandbox works (render.Sandboxer: the renderer runs in it and
// its boundaries hold) and keeps the answer as its sandbox policy
// (sandbox.go): the volunteer is offered, and the node advertises, only
// the built-in renderer and those whose sandbox works, unless the user
// allows unsandboxed rendering (--allow-unsandboxed, allow_unsandboxed,
// the web app's setting, applied at once). The volunteer's backends are
// wrapped so that a task for a refused renderer is never rendered, whatever
// a publisher grants, and every task's memory limit is capped at the
// user's max_memory. The publisher's own renders use the backends as they
// are, under the manifest's limits. id, the start log and the web app
// show the state.
//
// # Lifecycle
//
// open builds the components; nothing runs. run starts them in the order
// libp2p, asset store, collections, publisher, usage meter, volunteer, API,
// and stops them in reverse: the API first, then the volunteer (which hands
// back its leases), the publisher, collections, the asset store (which
// closes the torrent client), and libp2p; close then releases the database and the home lock.
// Every goroutine a component's Run starts is waited for before it returns.
package node
