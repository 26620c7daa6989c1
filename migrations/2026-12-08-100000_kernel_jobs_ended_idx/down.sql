DROP INDEX jobs_ended_idx;
