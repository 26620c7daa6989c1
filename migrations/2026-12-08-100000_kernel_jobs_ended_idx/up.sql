-- The hourly pruning of ended jobs finds them by when they ended.
CREATE INDEX jobs_ended_idx ON jobs (finished_at) WHERE status IN ('done', 'failed');
