-- Each peer's failure points in a job (scheduler.Changes.Points), written
-- when they change: the header in published_jobs no longer lists every
-- peer that ever failed, which made each change's write grow with the
-- swarm. A header written before lists them; the job's next change writes
-- them here.
CREATE TABLE published_points (
	job    TEXT    NOT NULL,
	peer   TEXT    NOT NULL,
	points INTEGER NOT NULL CHECK (points > 0),
	PRIMARY KEY (job, peer)
);
