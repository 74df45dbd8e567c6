// Package assets is renderswarm's content-addressed asset store: it turns
// files and directories into BitTorrent v1 torrents named by CIDs
// (job.AssetCID of the infohash), seeds them, fetches them from other peers
// with progress, verifies them, and keeps fetched content within a cache
// quota.
//
// It is the only package that imports github.com/anacrolix/torrent. It must
// not import node, cmd or gui; what it needs from content routing it declares
// as the small Providers interface, which node implements with the private
// kad-dht.
//
// Decisions, written down here because they shape everything else:
//
//   - Transport. The torrent client opens no sockets: no TCP/uTP listener,
//     no mainline DHT, trackers, PEX, UPnP, webtorrent or webseeds. Its only
//     listener and dialer are libp2p streams (protocol
//     "/renderswarm/bittorrent/1", via go-libp2p's gostream), and a torrent
//     peer address is a libp2p peer ID. Every torrent peer is therefore an
//     authenticated identity, and relays and hole punching come for free.
//     anacrolix assumes IP:port peer addresses in places (banning a peer
//     that sent bad data panics without one), so each peer ID is shown to
//     it as a stand-in address in fd72:7377::/32 (transport.go); banning
//     that address bans that identity for the client's lifetime.
//   - Discovery. Peers come only from Providers.FindProviders. A downloader
//     provides the CID as soon as it starts (like a tracker announce, so
//     leechers trade pieces with one another), re-queries providers while it
//     downloads, and re-adds peers when progress stalls. Add announces at
//     once; AddLater (a publisher's results) after that, at a bounded rate,
//     and every stored asset is announced again every reprovideInterval.
//   - Layout. Dir/data/<infohash-hex>/ holds one complete asset, whose
//     contents are exactly the torrent's file paths (the torrent name is only
//     a label). Content is written once and made read-only. Downloads happen
//     in Dir/staging/<infohash-hex>/ and are renamed into data/ only after
//     every piece has been re-hashed from disk; staging is wiped on Run.
//     List shows in-progress downloads with Complete=false.
//   - Trust. File paths from a peer's info dictionary are validated
//     (validateInfo) before anything is written: absolute paths, "..", empty
//     components, separators inside components and duplicate or clashing
//     paths are rejected. The piece completion of complete assets comes
//     from the database (they were verified on import), never from file
//     sizes; complete assets are added with data download disallowed, so
//     the client never writes into data/.
//   - Index. SQLite (internal/db), table assets: the bencoded info
//     dictionary, pinned flag and last use of every complete asset, so a
//     restarted store seeds everything again without re-hashing.
//   - Cache. Added assets are pinned and never collected. Fetched assets
//     are not pinned; beyond CacheQuota the least recently used are deleted.
//   - Seeding. Every complete asset is seeded (Seed=true), uploads share one
//     rate limiter that SetUploadRate changes live.
//   - Swarming. Two measures keep a rate-limited seeder from uploading the
//     same pieces to many simultaneous downloaders (bench/swarm measures
//     it): each downloader works through its own random permutation of the
//     pieces, a 4 MiB window at a time at high priority (spread.go), and it
//     keeps at most Config.PeerRequests (default 64) requests queued per
//     peer, by capping the "reqq" the peer announces (reqq.go; anacrolix
//     announces 1024).
//   - Listings (listing.go). AddListing, which `assets add`, collections
//     and the publisher's scenes use, makes an asset whose info dictionary
//     is an ordinary multi-file torrent of the tree (stock clients see
//     nothing else) plus the key "renderswarm": per file its content ID
//     (the infohash of the file's own torrent in canonical form: named
//     "blob", piece length from the size only, so any node adding the same
//     bytes gets the same ID) and mode, the packs holding small files, and
//     the owner's Ed25519 signature over the whole dictionary. The CID
//     names the dictionary as for any asset, so manifests, `assets get`
//     and magnet links are unchanged, and a listing from a peer is
//     validated (paths, per-file fields, canonical encoding, signature)
//     before anything else is fetched.
//   - Units (units.go). A file of packBelow (1 MiB) or more travels as its
//     own torrent, whose CID is its content ID; smaller files travel in
//     packs, torrents whose files are named by their content IDs (checked
//     on arrival: a pack's pieces prove only the packer's bytes). A new
//     listing reuses a stored pack it uses at least half of, so a new
//     version of a folder names the old version's packs and a new pack of
//     the changed files. Units are stored, seeded and provided like any
//     asset; table contents says where each content ID lives; List hides
//     units. A pack is fetched whole.
//   - Fetching a listing (getlisting.go) fetches only the units holding
//     contents this node lacks (four at a time, peers that served the
//     listing first), links the listing's files from the units' files
//     (hard links: no second copy on disk), checks the tree against the
//     listing's pieces, and stores it. Path, Hold and Export work on the
//     linked tree as on a plain asset. Plain torrents (scenes published
//     before listings, results, imported torrents) are fetched whole as
//     before.
//   - Collection with listings (gc.go). A listing costs no space itself;
//     a unit a stored listing links to is never collected, and counts as
//     pinned while a pinned (or held) listing uses it. Collecting a
//     listing frees its units.
//   - Stock BitTorrent (interop.go, btlisten.go). Torrent and Magnet
//     export any stored asset; AddTorrent imports a torrent made elsewhere
//     with its files, every piece checked before anything is stored.
//     Config.BTListen (off by default) adds a plain TCP listener: the wire
//     protocol, and on the same port a tracker whose only peer is this
//     node (aria2 takes peers only from trackers, not from a magnet's
//     x.pe). The client still dials only libp2p peers; no public DHT or
//     tracker is ever contacted.
//   - Measured (go run ./bench/listings, 2 shared cores, loopback; plain
//     torrent vs listing): 10,000 files of 1-8 KiB (44 MiB): add 6.9 s vs
//     12.5 s, info dictionary 473 KiB vs 707 KiB, 1 vs 2 torrents seeded,
//     disk 43.9 MiB both, fetch 50.8 s vs 34.4 s, bytes received equal; one
//     1 GiB file: add 3.3 s vs 5.8 s (a second hashing pass: the file's own
//     pieces and the tree's), info 20.2 vs 20.4 KiB, fetch 14.2 s vs 15.9 s
//     (the tree is verified once more after linking), bytes received equal.
//   - anacrolix v1.61 workarounds: pieces are at least 64 KiB, and empty
//     files come last in an asset (a write spanning an empty file fails and
//     stops the download; validateInfo rejects other layouts).
package assets
