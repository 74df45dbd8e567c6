-- A job's coordinator is persisted a task at a time: published_jobs'
-- snapshot column holds the job-level header (scheduler.RowsVersion), or a
-- whole snapshot of an older version until the job is next loaded, and
-- this table the latest row of each task that ever changed.
CREATE TABLE published_tasks (
	job   TEXT    NOT NULL,
	idx   INTEGER NOT NULL, -- the task's index in work order
	state BLOB    NOT NULL,
	PRIMARY KEY (job, idx)
);
