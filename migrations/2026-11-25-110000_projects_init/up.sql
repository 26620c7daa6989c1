CREATE TABLE projects (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id),
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'planned'
                     CONSTRAINT projects_status_check CHECK (status IN ('planned', 'active', 'on_hold', 'completed', 'cancelled')),
    start_date       date,
    due_date         date,
    archived_at      timestamptz,
    created_by       uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_organization_idx ON projects (organization_id);

-- Employees and freelancers working on a project, with their role on it.
CREATE TABLE project_members (
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id),
    project_role  text NOT NULL,
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE milestones (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    due_date     date,
    status       text NOT NULL DEFAULT 'pending'
                 CONSTRAINT milestones_status_check CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX milestones_project_idx ON milestones (project_id);

-- Kanban order: a fractional-index key per column, compared byte-wise
-- (COLLATE "C"; a locale collation would misorder keys).
CREATE TABLE tasks (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    milestone_id  uuid REFERENCES milestones (id) ON DELETE SET NULL,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'todo'
                  CONSTRAINT tasks_status_check CHECK (status IN ('todo', 'in_progress', 'in_review', 'done')),
    priority      text NOT NULL DEFAULT 'medium'
                  CONSTRAINT tasks_priority_check CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    assignee_id   uuid REFERENCES users (id),
    due_date      date,
    order_key     text COLLATE "C" NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    created_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_column_order_key UNIQUE (project_id, status, order_key)
);
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id) WHERE status <> 'done';
CREATE INDEX tasks_milestone_idx ON tasks (milestone_id);

-- Uploaded files: pending until the object is checked, then available or rejected.
CREATE TABLE files (
    id                uuid PRIMARY KEY,
    project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    task_id           uuid REFERENCES tasks (id) ON DELETE SET NULL,
    uploaded_by       uuid NOT NULL REFERENCES users (id),
    filename          text NOT NULL,
    content_type      text NOT NULL,
    size_bytes        bigint NOT NULL,
    storage_key       text NOT NULL CONSTRAINT files_storage_key_key UNIQUE,
    status            text NOT NULL DEFAULT 'pending'
                      CONSTRAINT files_status_check CHECK (status IN ('pending', 'quarantined', 'available', 'rejected')),
    rejection_reason  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);
CREATE INDEX files_project_idx ON files (project_id);
CREATE INDEX files_task_idx ON files (task_id);

INSERT INTO role_permissions (role, permission)
SELECT role, permission
FROM (VALUES
    ('super_admin', 'projects:project.manage'), ('admin', 'projects:project.manage'),
    ('super_admin', 'projects:task.write'), ('admin', 'projects:task.write'),
    ('employee', 'projects:task.write'), ('freelancer', 'projects:task.write'),
    ('super_admin', 'projects:workload.read'), ('admin', 'projects:workload.read'),
    ('employee', 'projects:workload.read'),
    ('super_admin', 'projects:file.upload'), ('admin', 'projects:file.upload'),
    ('employee', 'projects:file.upload'), ('freelancer', 'projects:file.upload'),
    ('client', 'projects:file.upload')
) AS grants (role, permission);
