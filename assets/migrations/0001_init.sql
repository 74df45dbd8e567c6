-- One row per complete, verified asset in the store.
CREATE TABLE assets (
	infohash  BLOB PRIMARY KEY,      -- 20-byte BitTorrent v1 infohash
	name      TEXT NOT NULL,         -- torrent name (a label)
	size      INTEGER NOT NULL,      -- total bytes
	files     INTEGER NOT NULL,      -- number of files
	info      BLOB NOT NULL,         -- bencoded info dictionary
	pinned    INTEGER NOT NULL,      -- 1: never garbage-collected
	added     INTEGER NOT NULL,      -- unix milliseconds
	last_used INTEGER NOT NULL       -- unix milliseconds, for LRU collection
);
CREATE INDEX assets_lru ON assets (pinned, last_used);
