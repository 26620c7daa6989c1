-- The outbox: work that must not be lost (emails, webhooks, renewals) is written
-- here in the same transaction as the change that causes it, then claimed by
-- workers with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CONSTRAINT jobs_status_check CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_failed_idx ON jobs (created_at) WHERE status = 'failed';
