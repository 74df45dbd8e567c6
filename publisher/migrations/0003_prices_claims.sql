-- Version 2 of this component key was the node's settings table (now the
-- "settings" component); this is the publisher's next migration.
--
-- The price of a job's task: the publisher's own estimate in milli-CU,
-- from a calibration render at publish (0: not priced yet). A claim is
-- capped at twice it.
ALTER TABLE published_jobs ADD COLUMN price INTEGER NOT NULL DEFAULT 0;

-- What each volunteer claimed for each task it delivered (milli-CU, capped
-- at the delivery), so that accepted results are paid the same after a
-- restart.
CREATE TABLE published_claims (
	job  TEXT    NOT NULL,
	task TEXT    NOT NULL, -- "<job ID>/<frame>/<tile>"
	peer TEXT    NOT NULL,
	cu   INTEGER NOT NULL CHECK (cu >= 0),
	PRIMARY KEY (job, task, peer)
);

-- Pairs of volunteers whose results of one task this publisher decided
-- together, and how often: a pair that keeps meeting is crop-checked on
-- every task it shares. a < b.
CREATE TABLE published_pairs (
	a   TEXT    NOT NULL,
	b   TEXT    NOT NULL,
	met INTEGER NOT NULL,
	PRIMARY KEY (a, b)
);
