-- Files attached to tickets. These statements once ran inside the support
-- migration (2026-11-25-120000); they are written to run again harmlessly on
-- databases that applied them there.
ALTER TABLE files ADD COLUMN IF NOT EXISTS ticket_id uuid REFERENCES tickets (id) ON DELETE SET NULL;
ALTER TABLE files ALTER COLUMN project_id DROP NOT NULL;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'files_owner_check' AND conrelid = 'files'::regclass
    ) THEN
        ALTER TABLE files ADD CONSTRAINT files_owner_check
            CHECK (project_id IS NOT NULL OR ticket_id IS NOT NULL);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS files_ticket_idx ON files (ticket_id);
