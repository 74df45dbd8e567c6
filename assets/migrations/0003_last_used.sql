-- Every use is stamped after the latest one recorded (nextUse in index.go):
-- max(last_used) must be a lookup, not a scan of every asset, or recording
-- an asset slows with the store's size (a publisher stores every accepted
-- result).
CREATE INDEX assets_last_used ON assets (last_used);
