// Package collection keeps named, versioned collections of assets: a
// record maps owner + name -> version -> listing CID and is signed by the
// owner's node key (record.go). `assets publish NAME DIR` adds the folder
// as a listing (package assets) and signs the next version; others resolve
// OWNER/NAME[@VERSION] to a listing and fetch it, which fetches only the
// files they lack, so a new version costs its changed files.
//
// Decisions:
//   - Records travel two ways. New ones are gossiped on Topic as their
//     owner publishes them (small, signed, validated before forwarding).
//     Every node that holds records of a collection provides the
//     collection's key (Ref.Key, a CID of owner and name) on our DHT, and
//     answers Protocol with the versions it holds; resolving a collection
//     asks a few of those holders (lookupTimeout). Provider records are
//     what the DHT already stores and refreshes for assets; a kad-dht value
//     record would need a validator inside p2p and lives only at the k
//     closest peers, and the history of versions would not fit one value.
//   - The newest valid signature wins: a collection's head is its highest
//     version. A record is stored only if its signature verifies against
//     the owner's key (an Ed25519 peer ID contains it); a record that
//     names another listing for a version already stored is refused
//     (ErrConflict, first seen wins); news (gossip, import, publish) must
//     be after the newest version stored (ErrBackwards), while answers to
//     a versions request may fill in older ones.
//   - Following is a setting per collection, kept in the database: the
//     node fetches and pins a followed collection's newest version when a
//     record for it arrives, when following starts, and every
//     pollInterval.
//
// It must not import node, cmd, gui or the roles; it reaches the asset
// store and the network through the small Store and Network interfaces.
package collection
