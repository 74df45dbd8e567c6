-- One row per receipt this node issued, accepted or was shown. The signed
-- bytes are the truth; the other columns are decoded from them for queries.
CREATE TABLE credits_receipts (
	publisher  TEXT    NOT NULL, -- base58 peer ID
	volunteer  TEXT    NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 1),
	task       TEXT    NOT NULL, -- "<job ID>/<frame>/<tile>"
	result     TEXT    NOT NULL, -- result asset CID
	cu         INTEGER NOT NULL CHECK (cu >= 0),
	total      INTEGER NOT NULL CHECK (total >= cu),
	issued     INTEGER NOT NULL, -- Unix seconds
	receipt    BLOB    NOT NULL, -- canonical receipt bytes
	sig        BLOB    NOT NULL, -- publisher's signature
	countersig BLOB,             -- volunteer's signature; NULL while pending
	PRIMARY KEY (publisher, volunteer, seq),
	UNIQUE (publisher, volunteer, task)
);
CREATE INDEX credits_receipts_pending ON credits_receipts (publisher, volunteer) WHERE countersig IS NULL;
CREATE INDEX credits_receipts_issued ON credits_receipts (issued);
