// Package node is renderswarm's one composition root: it owns the home
// directory (identity, config, database, asset store, api file), builds
// every component by hand, wires the small interfaces they declare, and runs
// them until the context ends.
//
// Shutdown order matters and is fixed here: the HTTP API stops first, then
// the asset store (which closes the torrent client), then the libp2p node
// (pub/sub, DHT, host), then the database. Nothing imports node but cmd.
package node
