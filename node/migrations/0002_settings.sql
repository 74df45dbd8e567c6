-- Volunteer settings saved from the web app (one row). They take
-- precedence over config.toml and flags for the settings they hold.
CREATE TABLE volunteer_settings (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	settings TEXT NOT NULL,   -- gui.Settings as JSON
	updated  INTEGER NOT NULL -- Unix seconds
);
