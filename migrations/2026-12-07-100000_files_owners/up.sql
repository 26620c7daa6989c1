-- A file belongs to one owner of any domain: a kind ('project', 'task',
-- 'ticket'; invoices, leave requests and leads later) and the owner's id. No
-- foreign key: the owning domain answers for its rows (files::FileOwner).
--
-- Expand step: project_id, task_id and ticket_id stay and are still written
-- for the kinds they can hold, so instances of the previous release keep
-- working during a rolling deploy; a trigger fills the owner of rows those
-- instances insert. A later migration drops the three columns and the trigger.
ALTER TABLE files ADD COLUMN owner_kind text;
ALTER TABLE files ADD COLUMN owner_id uuid;
-- Staff only: clients never see the file.
ALTER TABLE files ADD COLUMN internal boolean NOT NULL DEFAULT false;
-- The key the client's presigned PUT writes; the checked bytes are copied to
-- storage_key, which no presigned URL can write. NULL once completed.
ALTER TABLE files ADD COLUMN upload_key text;

-- A task's file (task_id is cleared when the task goes) belongs to the task;
-- otherwise the project comes before the ticket, as the previous reads did.
UPDATE files SET
    owner_kind = CASE
        WHEN task_id IS NOT NULL THEN 'task'
        WHEN project_id IS NOT NULL THEN 'project'
        ELSE 'ticket'
    END,
    owner_id = COALESCE(task_id, project_id, ticket_id),
    upload_key = CASE WHEN status = 'pending' THEN storage_key END;

CREATE FUNCTION files_fill_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_kind := CASE
        WHEN NEW.task_id IS NOT NULL THEN 'task'
        WHEN NEW.project_id IS NOT NULL THEN 'project'
        ELSE 'ticket'
    END;
    NEW.owner_id := COALESCE(NEW.task_id, NEW.project_id, NEW.ticket_id);
    NEW.upload_key := NEW.storage_key;
    RETURN NEW;
END
$$;
CREATE TRIGGER files_fill_owner BEFORE INSERT ON files
    FOR EACH ROW WHEN (NEW.owner_kind IS NULL) EXECUTE FUNCTION files_fill_owner();

ALTER TABLE files ALTER COLUMN owner_kind SET NOT NULL;
ALTER TABLE files ALTER COLUMN owner_id SET NOT NULL;
ALTER TABLE files ADD CONSTRAINT files_owner_kind_check CHECK (owner_kind ~ '^[a-z][a-z_]*$');
-- Owners other than projects and tickets have neither column.
ALTER TABLE files DROP CONSTRAINT IF EXISTS files_owner_check;
CREATE INDEX files_owner_idx ON files (owner_kind, owner_id, id);
CREATE UNIQUE INDEX files_upload_key_key ON files (upload_key);

-- The upload permission moves with the files to their own domain.
UPDATE role_permissions SET permission = 'files:file.upload'
WHERE permission = 'projects:file.upload';
