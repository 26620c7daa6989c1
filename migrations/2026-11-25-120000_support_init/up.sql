-- Business calendars for SLA clocks: a time zone, weekly working intervals
-- (several per day, for lunch breaks) and holidays.
CREATE TABLE business_calendars (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CONSTRAINT business_calendars_name_key UNIQUE,
    time_zone   text NOT NULL DEFAULT 'Asia/Kolkata',
    -- [{"weekday": 1, "start": "09:30", "end": "13:00"}, ...]; weekday 1 = Monday.
    intervals   jsonb NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX business_calendars_one_default ON business_calendars (is_default) WHERE is_default;

CREATE TABLE business_holidays (
    calendar_id  uuid NOT NULL REFERENCES business_calendars (id) ON DELETE CASCADE,
    day          date NOT NULL,
    name         text NOT NULL,
    PRIMARY KEY (calendar_id, day)
);

-- Targets per priority, in business minutes (urgent counts wall-clock minutes).
CREATE TABLE sla_policies (
    priority                   text PRIMARY KEY
                               CONSTRAINT sla_policies_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_response_minutes     integer NOT NULL CHECK (first_response_minutes > 0),
    resolution_minutes         integer NOT NULL CHECK (resolution_minutes > 0),
    business_hours_only        boolean NOT NULL DEFAULT true,
    warn_before_minutes        integer NOT NULL DEFAULT 30,
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    id                  uuid PRIMARY KEY,
    number              bigserial CONSTRAINT tickets_number_key UNIQUE,
    organization_id     uuid NOT NULL REFERENCES organizations (id),
    project_id          uuid REFERENCES projects (id) ON DELETE SET NULL,
    requester_id        uuid NOT NULL REFERENCES users (id),
    assignee_id         uuid REFERENCES users (id),
    subject             text NOT NULL,
    body                text NOT NULL,
    priority            text NOT NULL DEFAULT 'normal'
                        CONSTRAINT tickets_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status              text NOT NULL DEFAULT 'open'
                        CONSTRAINT tickets_status_check CHECK (status IN ('open', 'in_progress', 'waiting_on_client', 'resolved', 'closed')),
    -- SLA facts kept current on every change, so lists can filter on them.
    first_response_due_at  timestamptz,
    resolution_due_at      timestamptz,
    first_responded_at     timestamptz,
    resolved_at            timestamptz,
    sla_warned_at          timestamptz,
    sla_breached_at        timestamptz,
    search                 tsvector GENERATED ALWAYS AS (
                               to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(body, ''))
                           ) STORED,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_organization_idx ON tickets (organization_id, created_at DESC);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_open_due_idx ON tickets (resolution_due_at) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_search_idx ON tickets USING gin (search);

CREATE TABLE ticket_comments (
    id          uuid PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id   uuid NOT NULL REFERENCES users (id),
    body        text NOT NULL,
    internal    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (ticket_id, created_at);

-- The ticket's history; SLA state is computed from it.
CREATE TABLE ticket_events (
    id          uuid PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    actor_id    uuid REFERENCES users (id),
    data        jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, occurred_at);

-- Email categories a user has turned off.
CREATE TABLE notification_preferences (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category    text NOT NULL,
    email       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (user_id, category)
);

CREATE TABLE kb_categories (
    id           uuid PRIMARY KEY,
    slug         text NOT NULL CONSTRAINT kb_categories_slug_key UNIQUE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_articles (
    id            uuid PRIMARY KEY,
    category_id   uuid REFERENCES kb_categories (id) ON DELETE SET NULL,
    slug          text NOT NULL CONSTRAINT kb_articles_slug_key UNIQUE,
    title         text NOT NULL,
    body_markdown text NOT NULL,
    status        text NOT NULL DEFAULT 'draft'
                  CONSTRAINT kb_articles_status_check CHECK (status IN ('draft', 'published')),
    author_id     uuid REFERENCES users (id),
    published_at  timestamptz,
    search        tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
                      setweight(to_tsvector('english', coalesce(body_markdown, '')), 'B')
                  ) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_search_idx ON kb_articles USING gin (search);
CREATE INDEX kb_articles_category_idx ON kb_articles (category_id);

-- Defaults from DOMAIN.md: urgent 15 min / 4 h (wall clock); high 1 h / 8 h;
-- normal 2 h / 2 business days (16 h); low 4 h / 5 business days (40 h).
INSERT INTO sla_policies (priority, first_response_minutes, resolution_minutes, business_hours_only, warn_before_minutes) VALUES
    ('urgent', 15, 240, false, 5),
    ('high', 60, 480, true, 15),
    ('normal', 120, 960, true, 30),
    ('low', 240, 2400, true, 60);

-- Monday to Friday, 09:30-13:00 and 14:00-18:00 in India.
INSERT INTO business_calendars (id, name, time_zone, intervals, is_default) VALUES (
    '00000000-0000-7000-8000-000000000001', 'India office', 'Asia/Kolkata',
    '[{"weekday":1,"start":"09:30","end":"13:00"},{"weekday":1,"start":"14:00","end":"18:00"},
      {"weekday":2,"start":"09:30","end":"13:00"},{"weekday":2,"start":"14:00","end":"18:00"},
      {"weekday":3,"start":"09:30","end":"13:00"},{"weekday":3,"start":"14:00","end":"18:00"},
      {"weekday":4,"start":"09:30","end":"13:00"},{"weekday":4,"start":"14:00","end":"18:00"},
      {"weekday":5,"start":"09:30","end":"13:00"},{"weekday":5,"start":"14:00","end":"18:00"}]',
    true
);

INSERT INTO role_permissions (role, permission)
SELECT role, permission
FROM (VALUES
    ('super_admin', 'support:ticket.manage'), ('admin', 'support:ticket.manage'), ('employee', 'support:ticket.manage'),
    ('super_admin', 'support:ticket.internal'), ('admin', 'support:ticket.internal'), ('employee', 'support:ticket.internal'),
    ('super_admin', 'support:ticket.create'), ('admin', 'support:ticket.create'), ('employee', 'support:ticket.create'),
    ('client', 'support:ticket.create'),
    ('super_admin', 'support:sla.manage'), ('admin', 'support:sla.manage'),
    ('super_admin', 'support:kb.write'), ('admin', 'support:kb.write'), ('employee', 'support:kb.write')
) AS grants (role, permission);
