-- Volunteer settings saved from the web app (one row). They take
-- precedence over config.toml and flags for the settings they hold.
-- Component "settings"; homes from before it had its own key made this
-- table as migration 2 of "node", hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS volunteer_settings (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	settings TEXT NOT NULL,   -- gui.Settings as JSON
	updated  INTEGER NOT NULL -- Unix seconds
);
