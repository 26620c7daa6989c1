-- Emails already sent or given up kept their bodies (reset links, invitations,
-- one-time codes) in the outbox. The worker now clears them when a job ends;
-- clear those of jobs that ended before, keeping recipient and subject.
UPDATE jobs
   SET payload = payload || '{"text": null, "html": null}'::jsonb
 WHERE kind = 'mail.send'
   AND status IN ('done', 'failed')
   AND jsonb_typeof(payload) = 'object';
