CREATE TABLE organizations (
    id                      uuid PRIMARY KEY,
    name                    text NOT NULL,
    kind                    text NOT NULL
                            CONSTRAINT organizations_kind_check CHECK (kind IN ('agency', 'client', 'partner')),
    referred_by_partner_id  uuid REFERENCES organizations (id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));
CREATE INDEX organizations_referred_by_idx ON organizations (referred_by_partner_id);

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id),
    email            text NOT NULL,
    name             text NOT NULL,
    phone            text,
    role             text NOT NULL
                     CONSTRAINT users_role_check CHECK (role IN ('super_admin', 'admin', 'employee', 'client', 'freelancer', 'partner')),
    status           text NOT NULL DEFAULT 'active'
                     CONSTRAINT users_status_check CHECK (status IN ('active', 'invited', 'disabled')),
    password_hash    text,
    totp_secret      text,
    totp_enabled     boolean NOT NULL DEFAULT false,
    otp_channel      text
                     CONSTRAINT users_otp_channel_check CHECK (otp_channel IN ('email', 'sms')),
    -- Last accepted TOTP time step: a code is never accepted twice.
    totp_last_step   bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id);

-- Roles map to permissions as data, so a grant can change without a release.
CREATE TABLE role_permissions (
    role        text NOT NULL,
    permission  text NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id),
    ip             text,
    user_agent     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- One row per refresh token ever issued; a session is a token family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- One-time tokens sent by email: password reset and invitation.
CREATE TABLE one_time_tokens (
    id           uuid PRIMARY KEY,
    purpose      text NOT NULL
                 CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('password_reset', 'invitation')),
    user_id      uuid NOT NULL REFERENCES users (id),
    token_hash   bytea NOT NULL CONSTRAINT one_time_tokens_hash_key UNIQUE,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

-- A pending second factor after a correct password, and OTP codes.
CREATE TABLE mfa_challenges (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    method       text NOT NULL
                 CONSTRAINT mfa_challenges_method_check CHECK (method IN ('totp', 'email', 'sms')),
    code_hash    bytea,
    attempts     integer NOT NULL DEFAULT 0,
    ip           text,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz
);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);

CREATE TABLE recovery_codes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    code_hash  bytea NOT NULL,
    used_at    timestamptz
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- Fixed-window counters shared by every API instance.
CREATE TABLE rate_limit_counters (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    last_hit_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, window_start)
);

-- Tamper-evident audit trail: each entry's hash covers the previous entry's hash.
CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY,
    id           uuid NOT NULL CONSTRAINT audit_log_id_key UNIQUE,
    occurred_at  timestamptz NOT NULL,
    actor_id     uuid,
    action       text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text,
    ip           text,
    user_agent   text,
    diff         jsonb NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, seq);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

INSERT INTO role_permissions (role, permission)
SELECT role, permission
FROM (VALUES
    ('super_admin', 'auth:user.read'), ('super_admin', 'auth:user.invite'),
    ('super_admin', 'auth:user.manage'), ('super_admin', 'auth:admin.manage'),
    ('super_admin', 'auth:audit.read'), ('super_admin', 'auth:organization.manage'),
    ('admin', 'auth:user.read'), ('admin', 'auth:user.invite'),
    ('admin', 'auth:user.manage'), ('admin', 'auth:audit.read'),
    ('admin', 'auth:organization.manage'),
    ('employee', 'auth:user.read'), ('employee', 'auth:user.invite')
) AS grants (role, permission);
