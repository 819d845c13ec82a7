-- A running sync run's heartbeat: the process running it renews it while
-- it lives, so a run whose process died (killed, out of memory, host lost)
-- is known as abandoned within minutes and another run takes its place,
-- rather than the subscription staying "running" until the job engine
-- rescues the job an hour later.

-- +goose Up
ALTER TABLE sync_runs ADD COLUMN heartbeat_at BIGINT;
