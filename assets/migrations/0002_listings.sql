-- Listings: an asset whose info dictionary names every file's content, and
-- the units (file torrents and packs of small files) that hold content.
ALTER TABLE assets ADD COLUMN kind INTEGER NOT NULL DEFAULT 0; -- 0 plain torrent, 1 listing, 2 unit

-- Where each file content this node holds lives: a unit and the file's
-- path in it.
CREATE TABLE contents (
	content BLOB NOT NULL,     -- 20-byte content ID (infohash of the file's own torrent)
	unit    BLOB NOT NULL,     -- infohash of the unit holding it
	path    TEXT NOT NULL,     -- the file's slash path inside the unit
	size    INTEGER NOT NULL,
	PRIMARY KEY (content, unit)
);
CREATE INDEX contents_unit ON contents (unit);

-- The units a stored listing's files are linked from: a unit stays while a
-- listing uses it.
CREATE TABLE asset_refs (
	listing BLOB NOT NULL,
	unit    BLOB NOT NULL,
	PRIMARY KEY (listing, unit)
);
CREATE INDEX asset_refs_unit ON asset_refs (unit);

-- Info dictionaries of listings seen but not (yet) stored: diffs and
-- collection views read them without fetching the data.
CREATE TABLE listing_meta (
	infohash BLOB PRIMARY KEY,
	info     BLOB NOT NULL,
	seen     INTEGER NOT NULL     -- unix milliseconds
);
