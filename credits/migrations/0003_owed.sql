-- Publishers this node, as a volunteer, delivered results to lately: it
-- asks them for its receipts, also after a restart.
CREATE TABLE credits_owed (
	publisher TEXT    PRIMARY KEY, -- base58 peer ID
	last      INTEGER NOT NULL     -- Unix seconds of the latest delivery
);
