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
//     downloads, and re-adds peers when progress stalls.
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
//   - anacrolix v1.61 workarounds: pieces are at least 64 KiB, and empty
//     files come last in an asset (a write spanning an empty file fails and
//     stops the download; validateInfo rejects other layouts).
package assets
