-- Jobs this node published: the signed manifest and the coordinator's
-- latest snapshot, written after every change that must survive a crash.
CREATE TABLE published_jobs (
	id        TEXT PRIMARY KEY,  -- job ID (CID text)
	signed    BLOB NOT NULL,     -- signed manifest wire form
	snapshot  BLOB NOT NULL,     -- scheduler.Coordinator snapshot
	created   INTEGER NOT NULL,  -- Unix seconds
	updated   INTEGER NOT NULL
);
