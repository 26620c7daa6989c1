-- A partner's referral of a client organization. A new name is created at once
-- and its referral recorded as approved; an organization that already exists
-- is referred only when an admin approves, so naming a company never hands a
-- partner its projects, tickets and files.
CREATE TABLE organization_referrals (
    id               uuid PRIMARY KEY,
    partner_id       uuid NOT NULL REFERENCES organizations (id),
    organization_id  uuid NOT NULL REFERENCES organizations (id),
    -- The name as the partner typed it.
    name             text NOT NULL,
    status           text NOT NULL
                     CONSTRAINT organization_referrals_status_check CHECK (status IN ('pending', 'approved', 'declined')),
    requested_by     uuid NOT NULL REFERENCES users (id),
    decided_by       uuid REFERENCES users (id),
    decided_at       timestamptz,
    note             text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- One open request per partner and organization.
CREATE UNIQUE INDEX organization_referrals_pending_key
    ON organization_referrals (partner_id, organization_id) WHERE status = 'pending';
CREATE INDEX organization_referrals_partner_idx ON organization_referrals (partner_id, id);
CREATE INDEX organization_referrals_status_idx ON organization_referrals (status, id);

-- Admins decide on referrals of existing organizations.
INSERT INTO role_permissions (role, permission) VALUES
    ('super_admin', 'auth:referral.review'),
    ('admin', 'auth:referral.review');
