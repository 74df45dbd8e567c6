-- What this node, as a publisher, caught volunteers doing: a lost 2-of-3
-- vote or a result its own crop check refuted. One strike sends the
-- volunteer back to probation at this publisher: only receipts issued after
-- its latest strike count towards its standing.
CREATE TABLE credits_strikes (
	volunteer TEXT    NOT NULL, -- base58 peer ID
	task      TEXT    NOT NULL, -- "<job ID>/<frame>/<tile>"
	kind      TEXT    NOT NULL, -- "lost-vote" or "refuted"
	at        INTEGER NOT NULL, -- Unix seconds
	PRIMARY KEY (volunteer, task, kind)
);
CREATE INDEX credits_receipts_standing ON credits_receipts (publisher, volunteer, issued);
