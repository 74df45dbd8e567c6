-- Every valid collection record this node has seen (its own and others').
CREATE TABLE collection_records (
	owner   TEXT NOT NULL,     -- peer ID
	name    TEXT NOT NULL,
	version INTEGER NOT NULL,
	listing TEXT NOT NULL,     -- listing CID
	created INTEGER NOT NULL,  -- unix seconds, the owner's clock
	record  BLOB NOT NULL,     -- the signed encoding, to pass on
	seen    INTEGER NOT NULL,  -- unix milliseconds
	PRIMARY KEY (owner, name, version)
);

-- Collections this node follows, and the newest version it fetched.
CREATE TABLE collection_follows (
	owner   TEXT NOT NULL,
	name    TEXT NOT NULL,
	fetched INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, name)
);
