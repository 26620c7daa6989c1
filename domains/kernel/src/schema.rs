// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (seq) {
        seq -> Int8,
        id -> Uuid,
        occurred_at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        diff -> Jsonb,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    business_calendars (id) {
        id -> Uuid,
        name -> Text,
        time_zone -> Text,
        intervals -> Jsonb,
        is_default -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    business_holidays (calendar_id, day) {
        calendar_id -> Uuid,
        day -> Date,
        name -> Text,
    }
}

diesel::table! {
    files (id) {
        id -> Uuid,
        project_id -> Nullable<Uuid>,
        task_id -> Nullable<Uuid>,
        uploaded_by -> Uuid,
        filename -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        storage_key -> Text,
        status -> Text,
        rejection_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        ticket_id -> Nullable<Uuid>,
        owner_kind -> Text,
        owner_id -> Uuid,
        internal -> Bool,
        upload_key -> Nullable<Text>,
    }
}

diesel::table! {
    milestones (id) {
        id -> Uuid,
        project_id -> Uuid,
        name -> Text,
        description -> Text,
        due_date -> Nullable<Date>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    pending_registrations (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        company_name -> Text,
        password_hash -> Text,
        token_hash -> Nullable<Bytea>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    project_members (project_id, user_id) {
        project_id -> Uuid,
        user_id -> Uuid,
        project_role -> Text,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        description -> Text,
        status -> Text,
        start_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        archived_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        project_id -> Uuid,
        milestone_id -> Nullable<Uuid>,
        title -> Text,
        description -> Text,
        status -> Text,
        priority -> Text,
        assignee_id -> Nullable<Uuid>,
        due_date -> Nullable<Date>,
        order_key -> Text,
        version -> Int4,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    kb_articles (id) {
        id -> Uuid,
        category_id -> Nullable<Uuid>,
        slug -> Text,
        title -> Text,
        body_markdown -> Text,
        status -> Text,
        author_id -> Nullable<Uuid>,
        published_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    kb_categories (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        description -> Text,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_preferences (user_id, category) {
        user_id -> Uuid,
        category -> Text,
        email -> Bool,
    }
}

diesel::table! {
    sla_policies (priority) {
        priority -> Text,
        first_response_minutes -> Int4,
        resolution_minutes -> Int4,
        business_hours_only -> Bool,
        warn_before_minutes -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_comments (id) {
        id -> Uuid,
        ticket_id -> Uuid,
        author_id -> Uuid,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Uuid,
        ticket_id -> Uuid,
        kind -> Text,
        actor_id -> Nullable<Uuid>,
        data -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    tickets (id) {
        id -> Uuid,
        number -> Int8,
        organization_id -> Uuid,
        project_id -> Nullable<Uuid>,
        requester_id -> Uuid,
        assignee_id -> Nullable<Uuid>,
        subject -> Text,
        body -> Text,
        priority -> Text,
        status -> Text,
        first_response_due_at -> Nullable<Timestamptz>,
        resolution_due_at -> Nullable<Timestamptz>,
        first_responded_at -> Nullable<Timestamptz>,
        resolved_at -> Nullable<Timestamptz>,
        sla_warned_at -> Nullable<Timestamptz>,
        sla_breached_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    mfa_challenges (id) {
        id -> Uuid,
        user_id -> Uuid,
        method -> Text,
        code_hash -> Nullable<Bytea>,
        attempts -> Int4,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> Uuid,
        purpose -> Text,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    organization_referrals (id) {
        id -> Uuid,
        partner_id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        status -> Text,
        requested_by -> Uuid,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        note -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        referred_by_partner_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    rate_limit_counters (key, window_start) {
        key -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
        last_hit_at -> Timestamptz,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Uuid,
        user_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        session_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    role_permissions (role, permission) {
        role -> Text,
        permission -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        second_factor_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        organization_id -> Uuid,
        email -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        role -> Text,
        status -> Text,
        password_hash -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        otp_channel -> Nullable<Text>,
        totp_last_step -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(business_holidays -> business_calendars (calendar_id));
diesel::joinable!(files -> projects (project_id));
diesel::joinable!(files -> tasks (task_id));
diesel::joinable!(files -> tickets (ticket_id));
diesel::joinable!(kb_articles -> kb_categories (category_id));
diesel::joinable!(mfa_challenges -> users (user_id));
diesel::joinable!(milestones -> projects (project_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(project_members -> users (user_id));
diesel::joinable!(projects -> organizations (organization_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(tasks -> milestones (milestone_id));
diesel::joinable!(tasks -> projects (project_id));
diesel::joinable!(ticket_comments -> tickets (ticket_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(tickets -> organizations (organization_id));
diesel::joinable!(tickets -> projects (project_id));
diesel::joinable!(users -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    business_calendars,
    business_holidays,
    files,
    jobs,
    kb_articles,
    kb_categories,
    mfa_challenges,
    milestones,
    notification_preferences,
    one_time_tokens,
    organization_referrals,
    organizations,
    pending_registrations,
    project_members,
    projects,
    rate_limit_counters,
    recovery_codes,
    refresh_tokens,
    role_permissions,
    sessions,
    sla_policies,
    tasks,
    ticket_comments,
    ticket_events,
    tickets,
    users,
);
