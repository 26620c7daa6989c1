UPDATE role_permissions SET permission = 'projects:file.upload'
WHERE permission = 'files:file.upload';

DROP INDEX files_upload_key_key;
DROP INDEX files_owner_idx;
-- Files of owners the previous shape cannot hold are lost on the way down.
DELETE FROM files WHERE project_id IS NULL AND ticket_id IS NULL;
ALTER TABLE files ADD CONSTRAINT files_owner_check
    CHECK (project_id IS NOT NULL OR ticket_id IS NOT NULL);
ALTER TABLE files DROP CONSTRAINT files_owner_kind_check;
DROP TRIGGER files_fill_owner ON files;
DROP FUNCTION files_fill_owner();
ALTER TABLE files DROP COLUMN upload_key;
ALTER TABLE files DROP COLUMN internal;
ALTER TABLE files DROP COLUMN owner_id;
ALTER TABLE files DROP COLUMN owner_kind;
