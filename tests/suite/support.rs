//! The support desk as clients and staff use it: tickets, threads, internal
//! notes, SLAs, live events and email through the outbox.

use std::time::Duration;

use fluxorae_tests::mail::SmtpServer;
use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateTicketInput!) { createTicket(input: $input) { id number status priority sla { state firstResponseDueAt resolutionDueAt } } }";
const COMMENT: &str =
    "mutation($input: AddTicketCommentInput!) { addTicketComment(input: $input) { id internal } }";
const UPDATE: &str = "mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { status priority assignee { id } sla { state resolutionDueAt pausedSeconds } } }";

async fn open_ticket(app: &TestApp, client: &Persona, subject: &str, priority: &str) -> String {
    app.data(&client.token, CREATE, json!({ "input": { "subject": subject, "body": "The contact form on the site returns an error.", "priority": priority } }))
        .await["createTicket"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn spawn_with_smtp() -> (SmtpServer, TestApp) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(move |config| {
        config.mail_url = url;
        config.outbox_enabled = false;
    })
    .await;
    (smtp, app)
}

async fn next_ticket_event(ws: &mut fluxorae_tests::WsClient) -> Value {
    loop {
        let message = ws.next_json().await;
        if message["type"] == "next" {
            return message["payload"].clone();
        }
        assert_eq!(message["type"], "ping", "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_ticket_with_attachment_gets_only_the_public_reply_live_and_by_email() {
    let (smtp, app) = spawn_with_smtp().await;
    let _admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;

    // The client logs in as the portal does.
    let login: Value = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": client.email, "password": client.password }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["accessToken"].as_str().expect("token").to_string();
    let ticket = app.data(&token, CREATE, json!({ "input": { "subject": "Checkout is broken", "body": "Payments fail since this morning.", "priority": "HIGH" } }))
        .await["createTicket"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Attachment: request, PUT, complete.
    let screenshot = b"\x89PNG\r\n\x1a\n0000IHDR screenshot bytes";
    let ticket_upload = app.data(&token,
        "mutation($input: RequestUploadInput!) { requestUpload(input: $input) { file { id } uploadUrl uploadHeaders { name value } } }",
        json!({ "input": { "ticketId": ticket, "filename": "error.png", "contentType": "image/png", "size": screenshot.len() } }),
    )
    .await["requestUpload"]
        .clone();
    let mut put = app
        .http
        .put(ticket_upload["uploadUrl"].as_str().expect("url"))
        .body(screenshot.to_vec());
    for header in ticket_upload["uploadHeaders"].as_array().expect("headers") {
        if header["name"] != "content-length" && header["name"] != "Content-Length" {
            put = put.header(
                header["name"].as_str().expect("name"),
                header["value"].as_str().expect("value"),
            );
        }
    }
    assert!(put.send().await.expect("put").status().is_success());
    let file_id = ticket_upload["file"]["id"].clone();
    let completed = app
        .data(
            &token,
            "mutation($id: ID!) { completeUpload(fileId: $id) { status } }",
            json!({ "id": file_id }),
        )
        .await;
    assert_eq!(completed["completeUpload"]["status"], "AVAILABLE");

    // The client watches the ticket.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(&token)).await;
    ws.send(json!({ "type": "subscribe", "id": "t", "payload": {
        "query": "subscription($id: ID!) { ticketEvents(ticketId: $id) { kind comment { id body internal } } }",
        "variables": { "id": ticket },
    } }))
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Staff answer: an internal note first, then a public reply.
    app.data(&employee.token, COMMENT, json!({ "input": { "ticketId": ticket, "body": "Internal: gateway keys rotated yesterday", "internal": true } })).await;
    app.data(&employee.token, COMMENT, json!({ "input": { "ticketId": ticket, "body": "We found the cause and are deploying a fix.", "internal": false } })).await;

    let event = next_ticket_event(&mut ws).await;
    assert_eq!(
        event["data"]["ticketEvents"]["kind"], "COMMENT_ADDED",
        "{event}"
    );
    assert_eq!(
        event["data"]["ticketEvents"]["comment"]["body"],
        "We found the cause and are deploying a fix."
    );
    assert_eq!(event["data"]["ticketEvents"]["comment"]["internal"], false);

    // The client's view of the thread has no internal note; the attachment is there.
    let view = app.data(&token, "query($id: ID!) { ticket(id: $id) { comments { body internal } attachments { filename status } sla { state firstRespondedAt } } }", json!({ "id": ticket })).await;
    let comments = view["ticket"]["comments"].as_array().expect("comments");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["internal"], false);
    assert_eq!(view["ticket"]["attachments"][0]["filename"], "error.png");
    assert!(view["ticket"]["sla"]["firstRespondedAt"].is_string());
    let staff_view = app
        .data(
            &employee.token,
            "query($id: ID!) { ticket(id: $id) { comments { internal } } }",
            json!({ "id": ticket }),
        )
        .await;
    assert_eq!(
        staff_view["ticket"]["comments"].as_array().map(Vec::len),
        Some(2)
    );

    // Exactly one email about the reply reaches the client, and no email carries the note.
    app.drain_outbox().await;
    let mails = smtp.wait_for(3, Duration::from_secs(10)).await;
    let to_client: Vec<_> = mails
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == &client.email))
        .collect();
    let replies: Vec<_> = to_client
        .iter()
        .filter(|m| m.subject.starts_with("New reply on"))
        .collect();
    assert_eq!(replies.len(), 1, "{to_client:?}");
    assert!(replies[0].text.contains("deploying a fix"));
    assert!(
        mails
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == &client.email))
            .all(|m| !m.raw.contains("gateway keys"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_see_their_organizations_tickets_and_staff_filter_the_queue() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let ours = open_ticket(&app, &client, "Invoice copy needed", "LOW").await;
    let theirs = open_ticket(&app, &other, "Website down", "URGENT").await;

    let mine = app
        .data(
            &client.token,
            "{ tickets { totalCount edges { node { id subject } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["tickets"]["totalCount"], 1);
    assert_eq!(mine["tickets"]["edges"][0]["node"]["id"], ours.as_str());
    assert_eq!(
        app.error_code(
            &client.token,
            "query($id: ID!) { ticket(id: $id) { id } }",
            json!({ "id": theirs })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(
            &client.token,
            COMMENT,
            json!({ "input": { "ticketId": theirs, "body": "x" } })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(
            &client.token,
            COMMENT,
            json!({ "input": { "ticketId": ours, "body": "x", "internal": true } })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            &client.token,
            UPDATE,
            json!({ "input": { "ticketId": ours, "status": "CLOSED" } })
        )
        .await,
        "FORBIDDEN"
    );

    let urgent = app
        .data(
            &employee.token,
            "{ tickets(filter: { priority: [URGENT] }) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(urgent["tickets"]["totalCount"], 1);
    assert_eq!(urgent["tickets"]["edges"][0]["node"]["id"], theirs.as_str());
    let searched = app
        .data(
            &employee.token,
            "{ tickets(filter: { search: \"invoice\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(searched["tickets"]["totalCount"], 1);
    app.data(&employee.token, UPDATE, json!({ "input": { "ticketId": ours, "assigneeId": employee.user_id.to_string(), "status": "IN_PROGRESS" } })).await;
    let assigned = app.data(&employee.token, "query($me: ID!) { tickets(filter: { assigneeId: $me, status: [IN_PROGRESS] }) { totalCount } }", json!({ "me": employee.user_id.to_string() })).await;
    assert_eq!(assigned["tickets"]["totalCount"], 1);
    let breached = app
        .data(
            &employee.token,
            "{ tickets(filter: { breached: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(breached["tickets"]["totalCount"], 0);
    let page = app
        .data(
            &employee.token,
            "{ tickets(first: 1) { pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["tickets"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_on_the_client_pauses_the_resolution_clock_and_a_reply_resumes_it() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let ticket = open_ticket(&app, &client, "Logo files", "NORMAL").await;
    let sla = "query($id: ID!) { ticket(id: $id) { status sla { state resolutionDueAt pausedSeconds firstResponseDueAt } } }";
    let before = app
        .data(&employee.token, sla, json!({ "id": ticket }))
        .await;
    assert!(before["ticket"]["sla"]["resolutionDueAt"].is_string());

    let paused = app
        .data(
            &employee.token,
            UPDATE,
            json!({ "input": { "ticketId": ticket, "status": "WAITING_ON_CLIENT" } }),
        )
        .await;
    assert!(paused["updateTicket"]["sla"]["resolutionDueAt"].is_null());
    // The client's reply reopens the ticket and the clock runs again.
    app.data(
        &client.token,
        COMMENT,
        json!({ "input": { "ticketId": ticket, "body": "Here are the files." } }),
    )
    .await;
    let resumed = app
        .data(&employee.token, sla, json!({ "id": ticket }))
        .await;
    assert_eq!(resumed["ticket"]["status"], "OPEN");
    assert!(resumed["ticket"]["sla"]["resolutionDueAt"].is_string());

    // A higher priority re-targets the ticket: the due time moves earlier.
    let retargeted = app
        .data(
            &employee.token,
            UPDATE,
            json!({ "input": { "ticketId": ticket, "priority": "URGENT" } }),
        )
        .await;
    let urgent_due = retargeted["updateTicket"]["sla"]["resolutionDueAt"]
        .as_str()
        .expect("due")
        .to_string();
    let normal_due = resumed["ticket"]["sla"]["resolutionDueAt"]
        .as_str()
        .expect("due")
        .to_string();
    assert!(urgent_due < normal_due, "{urgent_due} < {normal_due}");
    let resolved = app
        .data(
            &employee.token,
            UPDATE,
            json!({ "input": { "ticketId": ticket, "status": "RESOLVED" } }),
        )
        .await;
    assert!(matches!(
        resolved["updateTicket"]["sla"]["state"].as_str(),
        Some("MET" | "BREACHED")
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sla_scan_warns_and_marks_each_breach_once_with_emails_and_live_events() {
    let (smtp, app) = spawn_with_smtp().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let ticket = open_ticket(&app, &client, "Server error", "HIGH").await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(&admin.token)).await;
    ws.send(json!({ "type": "subscribe", "id": "q", "payload": { "query": "subscription { ticketListEvents { kind slaState ticketId } }" } })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Make the first response overdue.
    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "UPDATE tickets SET first_response_due_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&ticket).expect("uuid"))
    .execute(&mut conn)
    .await
    .expect("overdue");
    let (warned, breached) = app
        .state
        .domains
        .support
        .tickets()
        .scan_sla()
        .await
        .expect("scan");
    assert_eq!((warned, breached), (1, 1));
    assert_eq!(
        app.state
            .domains
            .support
            .tickets()
            .scan_sla()
            .await
            .expect("scan again"),
        (0, 0),
        "each breach is marked once"
    );

    let mut kinds = Vec::new();
    for _ in 0..2 {
        let event = next_ticket_event(&mut ws).await;
        kinds.push(
            event["data"]["ticketListEvents"]["slaState"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(kinds, ["AT_RISK", "BREACHED"]);

    app.drain_outbox().await;
    // New-ticket mails to the admin and the client, then the warning and the breach.
    smtp.wait_for(4, Duration::from_secs(10)).await;
    let to_admin: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == &admin.email))
        .collect();
    assert!(
        to_admin
            .iter()
            .any(|m| m.subject.starts_with("SLA breached")),
        "{to_admin:?}"
    );
    assert!(
        to_admin
            .iter()
            .any(|m| m.subject.starts_with("SLA at risk")),
        "{to_admin:?}"
    );
    let listed = app
        .data(
            &admin.token,
            "{ tickets(filter: { breached: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["tickets"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_can_turn_email_categories_off() {
    let (smtp, app) = spawn_with_smtp().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let ticket = open_ticket(&app, &client, "Muted", "LOW").await;
    app.data(
        &client.token,
        "mutation { setNotificationPreference(category: \"ticket_reply\", email: false) }",
        json!({}),
    )
    .await;
    let muted = app
        .data(&client.token, "{ mutedNotifications }", json!({}))
        .await;
    assert_eq!(muted["mutedNotifications"], json!(["ticket_reply"]));
    app.data(
        &employee.token,
        COMMENT,
        json!({ "input": { "ticketId": ticket, "body": "A reply you will not get by email." } }),
    )
    .await;
    app.drain_outbox().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        smtp.messages()
            .iter()
            .all(|m| !m.subject.starts_with("New reply on"))
    );
    assert_eq!(
        app.error_code(
            &client.token,
            "mutation { setNotificationPreference(category: \"spam\", email: false) }",
            json!({})
        )
        .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_edit_sla_targets_and_the_business_calendar() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let policies = app
        .data(
            &client.token,
            "{ slaPolicies { priority firstResponseMinutes resolutionMinutes businessHoursOnly } }",
            json!({}),
        )
        .await;
    assert_eq!(
        policies["slaPolicies"][0],
        json!({ "priority": "URGENT", "firstResponseMinutes": 15, "resolutionMinutes": 240, "businessHoursOnly": false })
    );
    let calendar = app
        .data(
            &client.token,
            "{ businessCalendar { timeZone intervals { weekday start end } } }",
            json!({}),
        )
        .await;
    assert_eq!(calendar["businessCalendar"]["timeZone"], "Asia/Kolkata");
    assert_eq!(
        calendar["businessCalendar"]["intervals"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );

    let update = "mutation($input: UpdateSlaPolicyInput!) { updateSlaPolicy(input: $input) { priority resolutionMinutes } }";
    let low = json!({ "input": { "priority": "LOW", "firstResponseMinutes": 30, "resolutionMinutes": 60, "businessHoursOnly": false, "warnBeforeMinutes": 5 } });
    assert_eq!(
        app.error_code(&employee.token, update, low.clone()).await,
        "FORBIDDEN"
    );
    app.data(&admin.token, update, low).await;
    let ticket = app
        .data(
            &client.token,
            CREATE,
            json!({ "input": { "subject": "Quick one", "body": "Now", "priority": "LOW" } }),
        )
        .await;
    let created = chrono::Utc::now();
    let due = ticket["createTicket"]["sla"]["resolutionDueAt"]
        .as_str()
        .expect("due");
    let due = chrono::DateTime::parse_from_rfc3339(due)
        .expect("time")
        .with_timezone(&chrono::Utc);
    let minutes = (due - created).num_minutes();
    assert!(
        (59..=61).contains(&minutes),
        "a wall-clock hour, got {minutes} minutes"
    );
    let bad = json!({ "input": { "priority": "LOW", "firstResponseMinutes": 0, "resolutionMinutes": 60, "businessHoursOnly": true, "warnBeforeMinutes": 5 } });
    assert_eq!(
        app.error_code(&admin.token, update, bad).await,
        "BAD_USER_INPUT"
    );

    let calendar_update = "mutation($input: UpdateBusinessCalendarInput!) { updateBusinessCalendar(input: $input) { timeZone intervals { weekday } } }";
    let overlapping = json!({ "input": { "timeZone": "Asia/Kolkata", "intervals": [
        { "weekday": 1, "start": "09:00", "end": "13:00" }, { "weekday": 1, "start": "12:00", "end": "18:00" } ] } });
    assert_eq!(
        app.error_code(&admin.token, calendar_update, overlapping)
            .await,
        "BAD_USER_INPUT"
    );
    let unknown_zone = json!({ "input": { "timeZone": "Mars/Olympus", "intervals": [{ "weekday": 1, "start": "09:00", "end": "17:00" }] } });
    assert_eq!(
        app.error_code(&admin.token, calendar_update, unknown_zone)
            .await,
        "BAD_USER_INPUT"
    );
    let london = json!({ "input": { "timeZone": "Europe/London", "intervals": [{ "weekday": 1, "start": "09:00", "end": "17:00" }] } });
    assert_eq!(
        app.data(&admin.token, calendar_update, london).await["updateBusinessCalendar"]["timeZone"],
        "Europe/London"
    );
    let holidays = app.data(&admin.token, "mutation { addBusinessHoliday(day: \"2026-12-25\", name: \"Christmas\") { holidays { day name } } }", json!({})).await;
    assert_eq!(
        holidays["addBusinessHoliday"]["holidays"],
        json!([{ "day": "2026-12-25", "name": "Christmas" }])
    );
    let removed = app
        .data(
            &admin.token,
            "mutation { removeBusinessHoliday(day: \"2026-12-25\") { holidays { day } } }",
            json!({}),
        )
        .await;
    assert_eq!(removed["removeBusinessHoliday"]["holidays"], json!([]));
}

/// The error code that ends subscription `id` (a guard or resolver error
/// arrives as `next` with errors, then `complete`; a refused document as `error`).
async fn subscription_error(ws: &mut fluxorae_tests::WsClient, id: &str) -> Value {
    let mut code = Value::Null;
    loop {
        let message = ws.next_json().await;
        if message["id"] != id {
            continue;
        }
        match message["type"].as_str() {
            Some("error") => return message["payload"][0]["extensions"]["code"].clone(),
            Some("complete") => return code,
            _ => code = message["payload"]["errors"][0]["extensions"]["code"].clone(),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_watches_live_the_tickets_of_clients_it_referred_and_no_others() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let partner = app.persona(Role::Partner).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    app.refer(&partner, &client).await;
    let referred = open_ticket(&app, &client, "Banner looks wrong", "NORMAL").await;
    let unreferred = open_ticket(&app, &other, "Stock sync fails", "HIGH").await;

    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(&partner.token)).await;
    let watch = "subscription($id: ID!) { ticketEvents(ticketId: $id) { kind ticketId status comment { body internal } } }";
    ws.send(json!({ "type": "subscribe", "id": "other", "payload": { "query": watch, "variables": { "id": unreferred } } }))
        .await;
    assert_eq!(subscription_error(&mut ws, "other").await, "NOT_FOUND");
    ws.send(json!({ "type": "subscribe", "id": "acme", "payload": { "query": watch, "variables": { "id": referred } } }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Changes on the other organization's ticket and staff-only notes never arrive.
    app.data(
        &employee.token,
        COMMENT,
        json!({ "input": { "ticketId": unreferred, "body": "Looking at the sync job." } }),
    )
    .await;
    app.data(&employee.token, COMMENT, json!({ "input": { "ticketId": referred, "body": "Internal: CDN cache is stale", "internal": true } })).await;
    app.data(&employee.token, COMMENT, json!({ "input": { "ticketId": referred, "body": "We cleared the cache; please reload." } })).await;
    app.data(
        &employee.token,
        UPDATE,
        json!({ "input": { "ticketId": referred, "status": "WAITING_ON_CLIENT" } }),
    )
    .await;

    let reply = next_ticket_event(&mut ws).await;
    let reply = &reply["data"]["ticketEvents"];
    assert_eq!(reply["kind"], "COMMENT_ADDED", "{reply}");
    assert_eq!(reply["ticketId"], referred.as_str());
    assert_eq!(
        reply["comment"],
        json!({ "body": "We cleared the cache; please reload.", "internal": false })
    );
    let status = next_ticket_event(&mut ws).await;
    let status = &status["data"]["ticketEvents"];
    assert_eq!(status["kind"], "STATUS_CHANGED", "{status}");
    assert_eq!(status["status"], "WAITING_ON_CLIENT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_watching_the_queue_never_receives_internal_notes() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let ticket = open_ticket(&app, &client, "Newsletter bounced", "LOW").await;
    let elsewhere = open_ticket(&app, &other, "Invoice address", "LOW").await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(&client.token)).await;
    ws.send(json!({ "type": "subscribe", "id": "q", "payload": {
        "query": "subscription { ticketListEvents { kind ticketId comment { body internal } } }",
    } }))
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.data(&employee.token, COMMENT, json!({ "input": { "ticketId": ticket, "body": "Internal: the list provider blocked us", "internal": true } })).await;
    app.data(
        &employee.token,
        COMMENT,
        json!({ "input": { "ticketId": elsewhere, "body": "Fixed the address." } }),
    )
    .await;
    app.data(
        &employee.token,
        COMMENT,
        json!({ "input": { "ticketId": ticket, "body": "We are in touch with the provider." } }),
    )
    .await;

    let event = next_ticket_event(&mut ws).await;
    let event = &event["data"]["ticketListEvents"];
    assert_eq!(event["kind"], "COMMENT_ADDED", "{event}");
    assert_eq!(event["ticketId"], ticket.as_str());
    assert_eq!(
        event["comment"],
        json!({ "body": "We are in touch with the provider.", "internal": false })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assignee_who_stops_being_staff_gets_no_internal_notes_and_loses_the_ticket() {
    let (smtp, app) = spawn_with_smtp().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;
    let ticket = open_ticket(&app, &client, "Refund request", "NORMAL").await;
    app.data(
        &admin.token,
        UPDATE,
        json!({ "input": { "ticketId": ticket, "assigneeId": employee.user_id.to_string() } }),
    )
    .await;

    // The employee becomes a freelancer; notes and replies written before
    // anything else runs must not reach them.
    app.data(
        &admin.token,
        "mutation($input: ChangeUserRoleInput!) { changeUserRole(input: $input) { role } }",
        json!({ "input": { "userId": employee.user_id.to_string(), "role": "FREELANCER" } }),
    )
    .await;
    app.data(&admin.token, COMMENT, json!({ "input": { "ticketId": ticket, "body": "Internal: the card was flagged for fraud", "internal": true } })).await;
    app.data(&client.token, COMMENT, json!({ "input": { "ticketId": ticket, "body": "Any news on my refund?", "internal": false } })).await;
    app.drain_outbox().await;

    // What reached the former employee: the assignment, while still staff.
    smtp.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to_them: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == &employee.email))
        .collect();
    assert_eq!(to_them.len(), 1, "{to_them:#?}");
    assert!(
        to_them[0].subject.ends_with("is assigned to you"),
        "{to_them:#?}"
    );
    assert!(to_them.iter().all(|m| !m.raw.contains("flagged for fraud")));

    // The ticket no longer has them as assignee, and the audit log says so.
    let seen = app
        .data(
            &admin.token,
            "query($id: ID!) { ticket(id: $id) { assignee { id } } }",
            json!({ "id": ticket }),
        )
        .await;
    assert_eq!(seen["ticket"]["assignee"], Value::Null, "{seen}");
    let audit = app
        .data(
            &admin.token,
            "query($filter: AuditLogFilter) { auditLog(filter: $filter) { edges { node { actorId entityType entityId diff } } } }",
            json!({ "filter": { "action": "ticket.unassigned", "entityId": ticket } }),
        )
        .await;
    let entries = audit["auditLog"]["edges"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    let entry = &entries[0]["node"];
    assert_eq!(entry["actorId"], admin.user_id.to_string());
    assert_eq!(entry["entityType"], "ticket");
    assert_eq!(
        entry["diff"]["before"]["assigneeId"],
        employee.user_id.to_string()
    );
    assert_eq!(entry["diff"]["after"]["assigneeId"], Value::Null);

    // A role that keeps the right keeps the tickets.
    let root = app.persona(Role::SuperAdmin).await;
    let colleague = app.persona(Role::Employee).await;
    let other = open_ticket(&app, &client, "Invoice copy", "LOW").await;
    app.data(
        &admin.token,
        UPDATE,
        json!({ "input": { "ticketId": other, "assigneeId": colleague.user_id.to_string() } }),
    )
    .await;
    app.data(
        &root.token,
        "mutation($input: ChangeUserRoleInput!) { changeUserRole(input: $input) { role } }",
        json!({ "input": { "userId": colleague.user_id.to_string(), "role": "ADMIN" } }),
    )
    .await;
    app.drain_outbox().await;
    let kept = app
        .data(
            &admin.token,
            "query($id: ID!) { ticket(id: $id) { assignee { id } } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(
        kept["ticket"]["assignee"]["id"],
        colleague.user_id.to_string()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_aliased_pages_of_ticket_slas_are_refused_before_a_single_sla_is_computed() {
    // No background worker, so that every counted statement is the request's.
    let app = TestApp::spawn_with(|config| config.outbox_enabled = false).await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    for n in 0..3 {
        open_ticket(&app, &client, &format!("Ticket {n}"), "HIGH").await;
    }
    let aliases: Vec<String> = (1..=30)
        .map(|n| format!("a{n}: tickets(first: 100) {{ edges {{ node {{ sla {{ state }} }} }} }}"))
        .collect();
    let document = format!("{{ {} }}", aliases.join(" "));

    let before = app.state.queries.get();
    let (_, body) = app
        .post_graphql(Some(&admin.token), &document, json!({}))
        .await;
    let statements = app.state.queries.get() - before;

    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{body}");
    // Only the bearer token's session lookup runs; no ticket is read.
    assert!(
        statements <= 2,
        "{statements} statements for a refused document"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_tickets_with_their_slas_costs_the_same_statements_for_any_number_of_tickets() {
    // No background worker, so that every counted statement is the query's.
    let app = TestApp::spawn_with(|config| config.outbox_enabled = false).await;
    let sla =
        "sla { state firstResponseDueAt resolutionDueAt resolutionRemainingSeconds pausedSeconds }";
    let pages = [
        format!("{{ tickets(first: 100) {{ edges {{ node {{ id {sla} }} }} }} }}"),
        format!("{{ tickets(first: 100) {{ nodes {{ id {sla} }} }} }}"),
    ];
    let one = format!("query($id: ID!) {{ ticket(id: $id) {{ {sla} }} }}");
    let mut counts = Vec::new();
    for size in [3usize, 40] {
        let client = app
            .persona_in(Role::Client, Some(&format!("Client of {size}")))
            .await;
        for n in 0..size {
            let priority = ["URGENT", "HIGH", "NORMAL", "LOW"][n % 4];
            open_ticket(&app, &client, &format!("Ticket {n}"), priority).await;
        }
        for page in &pages {
            let before = app.state.queries.get();
            let body = app.data(&client.token, page, json!({})).await;
            counts.push(app.state.queries.get() - before);

            let nodes: Vec<&Value> = match body["tickets"]["edges"].as_array() {
                Some(edges) => edges.iter().map(|edge| &edge["node"]).collect(),
                None => body["tickets"]["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .collect(),
            };
            assert_eq!(nodes.len(), size);
            // Each ticket's SLA is its own, the same as when read alone.
            for node in nodes.iter().take(8) {
                let alone = app
                    .data(&client.token, &one, json!({ "id": node["id"] }))
                    .await;
                let (paged, alone) = (&node["sla"], &alone["ticket"]["sla"]);
                for field in [
                    "state",
                    "firstResponseDueAt",
                    "resolutionDueAt",
                    "pausedSeconds",
                ] {
                    assert_eq!(paged[field], alone[field], "{field}: {paged} / {alone}");
                }
            }
        }
    }
    // The session, the page (count and rows) and one read of the SLA rules
    // and histories, whatever the size: one read per ticket would be 40 or more.
    assert!(
        counts
            .iter()
            .all(|count| *count <= 8 && *count == counts[0]),
        "statements for 3 and 40 tickets, by edges and by nodes: {counts:?}"
    );
}
