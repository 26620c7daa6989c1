//! Projects, tasks and the live Kanban board, driven as the portals use them.

use std::collections::BTreeSet;

use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use serde_json::{Value, json};

async fn create_project(
    app: &TestApp,
    admin: &Persona,
    organization_id: uuid::Uuid,
    name: &str,
) -> String {
    let data = app.data(&admin.token,
        "mutation($input: CreateProjectInput!) { createProject(input: $input) { id status } }",
        json!({ "input": { "organizationId": organization_id.to_string(), "name": name, "status": "ACTIVE" } }),
    )
    .await;
    assert_eq!(data["createProject"]["status"], "ACTIVE");
    data["createProject"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn create_task(app: &TestApp, token: &str, project: &str, title: &str) -> (String, i64) {
    let data = app.data(token,
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id version status } }",
        json!({ "input": { "projectId": project, "title": title } }),
    )
    .await;
    (
        data["createTask"]["id"].as_str().expect("id").to_string(),
        data["createTask"]["version"].as_i64().expect("version"),
    )
}

async fn column_titles(app: &TestApp, token: &str, project: &str, column: &str) -> Vec<String> {
    let data = app.data(token,
        "query($id: ID!) { project(id: $id) { board { columns { status tasks { title orderKey } } } } }",
        json!({ "id": project }),
    )
    .await;
    let columns = data["project"]["board"]["columns"]
        .as_array()
        .expect("columns");
    let column = columns
        .iter()
        .find(|c| c["status"] == column)
        .expect("column");
    let tasks = column["tasks"].as_array().expect("tasks");
    let keys: Vec<&str> = tasks
        .iter()
        .map(|t| t["orderKey"].as_str().expect("key"))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "the board is in key order");
    tasks
        .iter()
        .map(|t| t["title"].as_str().expect("title").to_string())
        .collect()
}

const ADD_MEMBER: &str =
    "mutation($input: AddProjectMemberInput!) { addProjectMember(input: $input) { projectRole } }";

const REMOVE_MEMBER: &str =
    "mutation($input: RemoveProjectMemberInput!) { removeProjectMember(input: $input) }";

const MOVE: &str =
    "mutation($input: MoveTaskInput!) { moveTask(input: $input) { id status version orderKey } }";

/// Makes `member` a member of `project`, which tasks need of their assignees.
async fn add_member(app: &TestApp, admin: &Persona, project: &str, member: &Persona) {
    app.data(&admin.token, ADD_MEMBER,
        json!({ "input": { "projectId": project, "userId": member.user_id.to_string(), "projectRole": "developer" } }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_sees_only_their_organizations_projects() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let ours = create_project(&app, &admin, client.organization_id, "Acme website").await;
    let theirs = create_project(&app, &admin, other.organization_id, "Globex app").await;

    let list = app
        .data(
            &client.token,
            "{ projects { totalCount edges { node { id name organization { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["projects"]["totalCount"], 1);
    assert_eq!(list["projects"]["edges"][0]["node"]["id"], ours.as_str());
    assert_eq!(
        list["projects"]["edges"][0]["node"]["organization"]["name"],
        "Acme Pvt Ltd"
    );
    let query = "query($id: ID!) { project(id: $id) { name } }";
    assert_eq!(
        app.error_code(&client.token, query, json!({ "id": theirs }))
            .await,
        "NOT_FOUND"
    );
    let staff = app
        .data(&admin.token, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(staff["projects"]["totalCount"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn freelancers_see_their_projects_and_partners_read_referred_ones_only() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let freelancer = app.persona(Role::Freelancer).await;
    let partner = app.persona(Role::Partner).await;
    let member_of = create_project(&app, &admin, client.organization_id, "Member").await;
    let not_member = create_project(&app, &admin, client.organization_id, "Not member").await;
    app.data(&admin.token,
        "mutation($input: AddProjectMemberInput!) { addProjectMember(input: $input) { projectRole user { id } } }",
        json!({ "input": { "projectId": member_of, "userId": freelancer.user_id.to_string(), "projectRole": "designer" } }),
    )
    .await;
    let seen = app
        .data(
            &freelancer.token,
            "{ projects { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["projects"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        seen["projects"]["edges"][0]["node"]["id"],
        member_of.as_str()
    );
    create_task(&app, &freelancer.token, &member_of, "Freelancer task").await;
    let create = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";
    assert_eq!(
        app.error_code(
            &freelancer.token,
            create,
            json!({ "input": { "projectId": not_member, "title": "x" } })
        )
        .await,
        "NOT_FOUND"
    );

    // The partner sees nothing until Acme is referred by the partner's organization.
    let none = app
        .data(&partner.token, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(none["projects"]["totalCount"], 0);
    app.refer(&partner, &client).await;
    let referred = app
        .data(&partner.token, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(referred["projects"]["totalCount"], 2);
    assert_eq!(
        app.error_code(
            &partner.token,
            create,
            json!({ "input": { "projectId": member_of, "title": "x" } })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            &client.token,
            create,
            json!({ "input": { "projectId": member_of, "title": "x" } })
        )
        .await,
        "FORBIDDEN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_projects_members_and_milestones() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;
    let project = create_project(&app, &admin, client.organization_id, "Brand refresh").await;
    let updated = app.data(&admin.token,
        "mutation($input: UpdateProjectInput!) { updateProject(input: $input) { name status startDate dueDate } }",
        json!({ "input": { "projectId": project, "name": "Brand refresh 2026", "status": "ON_HOLD", "startDate": "2026-12-01", "dueDate": "2027-01-31" } }),
    )
    .await;
    assert_eq!(updated["updateProject"]["status"], "ON_HOLD");
    assert_eq!(updated["updateProject"]["dueDate"], "2027-01-31");
    let bad = "mutation($input: UpdateProjectInput!) { updateProject(input: $input) { name } }";
    assert_eq!(
        app.error_code(
            &admin.token,
            bad,
            json!({ "input": { "projectId": project, "dueDate": "2026-01-01" } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(
            &employee.token,
            bad,
            json!({ "input": { "projectId": project, "name": "x" } })
        )
        .await,
        "FORBIDDEN"
    );

    let milestone = app.data(&admin.token,
        "mutation($input: CreateMilestoneInput!) { createMilestone(input: $input) { id status } }",
        json!({ "input": { "projectId": project, "name": "Design sign-off", "dueDate": "2026-12-15" } }),
    )
    .await;
    let milestone_id = milestone["createMilestone"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.data(
        &admin.token,
        "mutation($input: UpdateMilestoneInput!) { updateMilestone(input: $input) { status } }",
        json!({ "input": { "milestoneId": milestone_id, "status": "COMPLETED" } }),
    )
    .await;
    app.data(&admin.token,
        ADD_MEMBER,
        json!({ "input": { "projectId": project, "userId": employee.user_id.to_string(), "projectRole": "lead" } }),
    )
    .await;
    let member_of_client = ADD_MEMBER;
    assert_eq!(
        app.error_code(&admin.token, member_of_client, json!({ "input": { "projectId": project, "userId": client.user_id.to_string(), "projectRole": "x" } })).await,
        "BAD_USER_INPUT"
    );
    let view = app.data(&client.token,
        "query($id: ID!) { project(id: $id) { members { projectRole user { id } } milestones { name status } } }",
        json!({ "id": project }),
    )
    .await;
    assert_eq!(view["project"]["members"][0]["projectRole"], "lead");
    assert_eq!(view["project"]["milestones"][0]["status"], "COMPLETED");
    app.data(
        &admin.token,
        REMOVE_MEMBER,
        json!({ "input": { "projectId": project, "userId": employee.user_id.to_string() } }),
    )
    .await;

    app.data(
        &admin.token,
        "mutation($id: ID!) { archiveProject(projectId: $id) { archivedAt } }",
        json!({ "id": project }),
    )
    .await;
    let listed = app
        .data(&client.token, "{ projects { totalCount } }", json!({}))
        .await;
    assert_eq!(listed["projects"]["totalCount"], 0);
    let archived = app
        .data(
            &client.token,
            "{ projects(filter: { includeArchived: true }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(archived["projects"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_tasks_orders_the_board_and_stale_versions_conflict() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let project = create_project(&app, &admin, client.organization_id, "Board").await;
    add_member(&app, &admin, &project, &employee).await;
    let (a, _) = create_task(&app, &employee.token, &project, "A").await;
    let (b, b_version) = create_task(&app, &employee.token, &project, "B").await;
    let (c, c_version) = create_task(&app, &employee.token, &project, "C").await;
    assert_eq!(
        column_titles(&app, &client.token, &project, "TODO").await,
        ["A", "B", "C"]
    );

    // C between A and B.
    let moved = app.data(&employee.token, MOVE, json!({ "input": { "taskId": c, "toStatus": "TODO", "afterTaskId": a, "beforeTaskId": b, "expectedVersion": c_version } })).await;
    assert_eq!(moved["moveTask"]["version"], c_version + 1);
    assert_eq!(
        column_titles(&app, &client.token, &project, "TODO").await,
        ["A", "C", "B"]
    );

    // B to the top of IN_PROGRESS, then a stale move of B conflicts.
    app.data(&employee.token, MOVE, json!({ "input": { "taskId": b, "toStatus": "IN_PROGRESS", "expectedVersion": b_version } })).await;
    assert_eq!(
        column_titles(&app, &client.token, &project, "IN_PROGRESS").await,
        ["B"]
    );
    assert_eq!(
        app.error_code(
            &employee.token,
            MOVE,
            json!({ "input": { "taskId": b, "toStatus": "DONE", "expectedVersion": b_version } })
        )
        .await,
        "CONFLICT"
    );
    // A script that does not send a version moves the current one.
    let moved = app
        .data(
            &employee.token,
            MOVE,
            json!({ "input": { "taskId": b, "toStatus": "DONE" } }),
        )
        .await;
    assert_eq!(moved["moveTask"]["status"], "DONE");
    assert_eq!(moved["moveTask"]["version"], b_version + 2);
    // A neighbour from another column is bad input.
    assert_eq!(
        app.error_code(&employee.token, MOVE, json!({ "input": { "taskId": a, "toStatus": "DONE", "afterTaskId": c, "expectedVersion": 1 } })).await,
        "BAD_USER_INPUT"
    );
    // A before everything.
    app.data(&employee.token, MOVE, json!({ "input": { "taskId": a, "toStatus": "TODO", "beforeTaskId": c, "expectedVersion": 1 } })).await;
    assert_eq!(
        column_titles(&app, &client.token, &project, "TODO").await,
        ["A", "C"]
    );

    let updated = app.data(&employee.token,
        "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { title priority assignee { id } dueDate version } }",
        json!({ "input": { "taskId": a, "title": "A1", "priority": "URGENT", "assigneeId": employee.user_id.to_string(), "dueDate": "2026-12-01" } }),
    )
    .await;
    assert_eq!(updated["updateTask"]["priority"], "URGENT");
    assert_eq!(
        updated["updateTask"]["assignee"]["id"],
        employee.user_id.to_string()
    );
    let deleted = app
        .data(
            &employee.token,
            "mutation($id: ID!) { deleteTask(taskId: $id) { id } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(deleted["deleteTask"]["id"], c.as_str());
    assert_eq!(
        column_titles(&app, &client.token, &project, "TODO").await,
        ["A1"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_moves_keep_the_column_ordered_and_lose_no_task() {
    let app = TestApp::spawn_with(|config| config.db_pool_size = 12).await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = create_project(&app, &admin, client.organization_id, "Busy board").await;
    let (anchor, _) = create_task(&app, &admin.token, &project, "anchor").await;
    let (last, _) = create_task(&app, &admin.token, &project, "last").await;
    let mut moving = Vec::new();
    for index in 0..16 {
        moving.push(create_task(&app, &admin.token, &project, &format!("t{index}")).await);
    }
    // Everyone drops their task between the same two neighbours at once.
    let moves = moving.iter().map(|(task, version)| {
        let app = &app;
        let token = admin.token.clone();
        let variables = json!({ "input": { "taskId": task, "toStatus": "IN_REVIEW", "expectedVersion": version } });
        async move { app.graphql(Some(&token), MOVE, variables).await }
    });
    let results = futures_util::future::join_all(moves).await;
    for body in &results {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let titles = column_titles(&app, &client.token, &project, "IN_REVIEW").await;
    assert_eq!(titles.len(), 16);
    let unique: BTreeSet<_> = titles.iter().collect();
    assert_eq!(unique.len(), 16);
    // Now squeeze them all between anchor and last.
    app.data(
        &admin.token,
        MOVE,
        json!({ "input": { "taskId": anchor, "toStatus": "DONE", "expectedVersion": 1 } }),
    )
    .await;
    app.data(&admin.token, MOVE, json!({ "input": { "taskId": last, "toStatus": "DONE", "afterTaskId": anchor, "expectedVersion": 1 } })).await;
    let squeezes = moving.iter().map(|(task, version)| {
        let app = &app;
        let token = admin.token.clone();
        let variables = json!({ "input": { "taskId": task, "toStatus": "DONE", "afterTaskId": anchor, "beforeTaskId": last, "expectedVersion": version + 1 } });
        async move { app.graphql(Some(&token), MOVE, variables).await }
    });
    for body in futures_util::future::join_all(squeezes).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let done = column_titles(&app, &client.token, &project, "DONE").await;
    assert_eq!(done.len(), 18);
    assert_eq!(done.first().map(String::as_str), Some("anchor"));
    assert_eq!(done.last().map(String::as_str), Some("last"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_board_costs_the_same_number_of_statements_for_any_number_of_tasks() {
    // No background worker, so that every counted statement is the query's.
    let app = TestApp::spawn_with(|config| config.outbox_enabled = false).await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;
    let freelancer = app.persona(Role::Freelancer).await;
    let query = "query($id: ID!) { project(id: $id) { name organization { name } members { user { email } }
        milestones { name } board { columns { status tasks { title assignee { email organization { name } } milestone { name } } } } } }";
    let mut counts = Vec::new();
    for size in [3usize, 40] {
        let project = create_project(
            &app,
            &admin,
            client.organization_id,
            &format!("Board {size}"),
        )
        .await;
        add_member(&app, &admin, &project, &employee).await;
        add_member(&app, &admin, &project, &freelancer).await;
        let milestone = app
            .data(
                &admin.token,
                "mutation($input: CreateMilestoneInput!) { createMilestone(input: $input) { id } }",
                json!({ "input": { "projectId": project, "name": "M1" } }),
            )
            .await["createMilestone"]["id"]
            .clone();
        for index in 0..size {
            let assignee = if index % 2 == 0 {
                &employee
            } else {
                &freelancer
            };
            let status = ["TODO", "IN_PROGRESS", "DONE"][index % 3];
            app.data(&admin.token,
                "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
                json!({ "input": { "projectId": project, "title": format!("task {index}"), "assigneeId": assignee.user_id.to_string(), "milestoneId": milestone, "status": status } }),
            )
            .await;
        }
        let before = app.state.queries.get();
        let body = app
            .data(&client.token, query, json!({ "id": project }))
            .await;
        counts.push(app.state.queries.get() - before);
        let tasks: usize = body["project"]["board"]["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|column| column["tasks"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(tasks, size);
    }
    // DataLoader batches by a short time window, so a loaded machine may
    // split one batch in two; what matters is that 40 tasks cost no more
    // statements than a small constant, as 3 do (N+1 would be 40 or more).
    assert!(
        counts.iter().all(|count| *count <= 10),
        "statements for 3 and 40 tasks: {counts:?}"
    );
    assert!(
        counts[1] <= counts[0] + 2,
        "statements for 3 and 40 tasks: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workload_and_my_tasks_count_open_due_and_overdue_work() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;
    let project = create_project(&app, &admin, client.organization_id, "Work").await;
    add_member(&app, &admin, &project, &employee).await;
    let today = chrono::Utc::now().date_naive();
    for (title, due) in [
        ("overdue", today - chrono::Duration::days(3)),
        ("soon", today + chrono::Duration::days(2)),
        ("later", today + chrono::Duration::days(30)),
    ] {
        app.data(&admin.token,
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "projectId": project, "title": title, "assigneeId": employee.user_id.to_string(), "dueDate": due.to_string() } }),
        )
        .await;
    }
    let workload = app.data(&admin.token,
        "query($from: NaiveDate!, $to: NaiveDate!) { workload(from: $from, to: $to) { user { id } openTasks dueSoon overdue } }",
        json!({ "from": today.to_string(), "to": (today + chrono::Duration::days(7)).to_string() }),
    )
    .await;
    assert_eq!(
        workload["workload"][0]["user"]["id"],
        employee.user_id.to_string()
    );
    assert_eq!(workload["workload"][0]["openTasks"], 3);
    assert_eq!(workload["workload"][0]["dueSoon"], 1);
    assert_eq!(workload["workload"][0]["overdue"], 1);
    let mine = app.data(&employee.token,
        "{ myTasks(first: 2) { totalCount pageInfo { hasNextPage } edges { node { title } } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["myTasks"]["totalCount"], 3);
    assert_eq!(mine["myTasks"]["pageInfo"]["hasNextPage"], true);
    let query = "query($from: NaiveDate!, $to: NaiveDate!) { workload(from: $from, to: $to) { openTasks } }";
    assert_eq!(
        app.error_code(
            &client.token,
            query,
            json!({ "from": "2026-01-01", "to": "2026-02-01" })
        )
        .await,
        "FORBIDDEN"
    );
}

async fn subscribe_board(app: &TestApp, token: &str, project: &str) -> fluxorae_tests::WsClient {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(token)).await;
    ws.send(json!({ "type": "subscribe", "id": "board", "payload": {
        "query": "subscription($id: ID!) { boardEvents(projectId: $id) { kind actorId taskId orderKey status task { title } } }",
        "variables": { "id": project },
    } }))
    .await;
    ws
}

async fn next_board_event(ws: &mut fluxorae_tests::WsClient) -> Value {
    loop {
        let message = ws.next_json().await;
        if message["type"] == "next" {
            return message["payload"]["data"]["boardEvents"].clone();
        }
        assert_eq!(message["type"], "ping", "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn board_events_reach_allowed_subscribers_and_nobody_else() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let project = create_project(&app, &admin, client.organization_id, "Live").await;

    let mut outsider = app.ws("graphql-transport-ws").await;
    outsider.init(Some(&other.token)).await;
    outsider
        .send(json!({ "type": "subscribe", "id": "x", "payload": {
            "query": "subscription($id: ID!) { boardEvents(projectId: $id) { kind } }",
            "variables": { "id": project },
        } }))
        .await;
    let refused = outsider.next_json().await;
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );

    let mut watcher = subscribe_board(&app, &client.token, &project).await;
    // Give the subscription a moment to register with the bus.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (task, version) = create_task(&app, &admin.token, &project, "Wireframes").await;
    let created = next_board_event(&mut watcher).await;
    assert_eq!(created["kind"], "TASK_CREATED");
    assert_eq!(created["actorId"], admin.user_id.to_string());
    assert_eq!(created["task"]["title"], "Wireframes");
    let moved = app.data(&admin.token, MOVE, json!({ "input": { "taskId": task, "toStatus": "IN_PROGRESS", "expectedVersion": version } })).await;
    let event = next_board_event(&mut watcher).await;
    assert_eq!(event["kind"], "TASK_MOVED");
    assert_eq!(event["status"], "IN_PROGRESS");
    assert_eq!(event["orderKey"], moved["moveTask"]["orderKey"]);
    // The outsider's subscription ended with its error; nothing else arrives.
    assert_eq!(
        outsider.next_json().await,
        json!({ "type": "complete", "id": "x" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_on_one_instance_reaches_a_subscriber_on_another_through_postgres() {
    use fluxorae::config::EventBusKind;
    let first = TestApp::spawn_with(|config| config.event_bus = EventBusKind::Postgres).await;
    let second = first
        .spawn_alongside(|config| config.event_bus = EventBusKind::Postgres)
        .await;
    let admin = first.persona(Role::Admin).await;
    let client = first.persona(Role::Client).await;
    let project = create_project(&first, &admin, client.organization_id, "Two instances").await;
    let (task, version) = create_task(&first, &admin.token, &project, "Copy").await;

    let mut watcher = subscribe_board(&second, &client.token, &project).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    first
        .data(
            &admin.token,
            MOVE,
            json!({ "input": { "taskId": task, "toStatus": "DONE", "expectedVersion": version } }),
        )
        .await;
    // The creation's notification may still be in flight when the subscriber joins.
    let mut event = next_board_event(&mut watcher).await;
    if event["kind"] == "TASK_CREATED" {
        event = next_board_event(&mut watcher).await;
    }
    assert_eq!(event["kind"], "TASK_MOVED");
    assert_eq!(event["status"], "DONE");
    assert_eq!(event["taskId"], task.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bus_reconnect_tells_subscribers_to_refetch() {
    use fluxorae::config::EventBusKind;
    let app = TestApp::spawn_with(|config| config.event_bus = EventBusKind::Postgres).await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = create_project(&app, &admin, client.organization_id, "Reconnects").await;
    let mut watcher = subscribe_board(&app, &client.token, &project).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Cut the bus's LISTEN connection, as a database failover would.
    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .execute(&mut conn)
    .await
    .expect("terminate the listener");
    let event = next_board_event(&mut watcher).await;
    assert_eq!(event["kind"], "REFETCH");

    // After reconnecting, events flow again.
    let mut delivered = false;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        create_task(&app, &admin.token, &project, "After reconnect").await;
        let event = next_board_event(&mut watcher).await;
        if event["kind"] == "TASK_CREATED" {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "events resume after the bus reconnects");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_freelancer_removed_from_a_project_stops_receiving_its_board() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let freelancer = app.persona(Role::Freelancer).await;
    let project = create_project(&app, &admin, client.organization_id, "Membership").await;
    let member = json!({ "input": { "projectId": project, "userId": freelancer.user_id.to_string(), "projectRole": "designer" } });
    app.data(&admin.token, ADD_MEMBER, member).await;
    let mut watcher = subscribe_board(&app, &freelancer.token, &project).await;
    let mut staff = subscribe_board(&app, &admin.token, &project).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    create_task(&app, &admin.token, &project, "Logo").await;
    assert_eq!(next_board_event(&mut watcher).await["kind"], "TASK_CREATED");
    assert_eq!(next_board_event(&mut staff).await["kind"], "TASK_CREATED");
    app.data(
        &admin.token,
        REMOVE_MEMBER,
        json!({ "input": { "projectId": project, "userId": freelancer.user_id.to_string() } }),
    )
    .await;
    assert_eq!(
        watcher.next_json().await,
        json!({ "type": "complete", "id": "board" }),
        "the former member's stream ends"
    );
    create_task(&app, &admin.token, &project, "Palette").await;
    assert_eq!(
        next_board_event(&mut staff).await["kind"],
        "TASK_CREATED",
        "the removal is no board event for those who stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn my_tasks_shows_only_tasks_of_projects_one_still_sees_and_only_members_are_assignees() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let freelancer = app.persona(Role::Freelancer).await;
    let project = create_project(&app, &admin, client.organization_id, "Launch").await;
    let milestone = app
        .data(
            &admin.token,
            "mutation($input: CreateMilestoneInput!) { createMilestone(input: $input) { id } }",
            json!({ "input": { "projectId": project, "name": "Confidential launch" } }),
        )
        .await["createMilestone"]["id"]
        .clone();
    let freelancer_id = freelancer.user_id.to_string();
    let membership = json!({ "input": { "projectId": project, "userId": freelancer_id } });
    let mut add = membership.clone();
    add["input"]["projectRole"] = json!("designer");
    app.data(&admin.token, ADD_MEMBER, add).await;
    const CREATE: &str =
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id assignee { id } } }";
    let mut tasks = Vec::new();
    for (title, status) in [("Press kit", "TODO"), ("Teaser", "DONE")] {
        let created = app.data(&admin.token, CREATE,
            json!({ "input": { "projectId": project, "title": title, "description": "Embargoed until the launch", "assigneeId": freelancer_id, "milestoneId": milestone, "status": status } }),
        )
        .await;
        assert_eq!(
            created["createTask"]["assignee"]["id"],
            freelancer_id.as_str()
        );
        tasks.push(
            created["createTask"]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    const MINE: &str = "{ myTasks(includeDone: true) { totalCount edges { node { title description milestone { name } } } } }";
    let mine = app.data(&freelancer.token, MINE, json!({})).await;
    assert_eq!(mine["myTasks"]["totalCount"], 2, "{mine}");

    // Removed from the project: the open task loses its assignee, the done
    // one keeps it as history, and neither is readable any more.
    app.data(&admin.token, REMOVE_MEMBER, membership).await;
    let mine = app.data(&freelancer.token, MINE, json!({})).await;
    assert_eq!(mine["myTasks"]["totalCount"], 0, "{mine}");
    assert_eq!(mine["myTasks"]["edges"], json!([]), "{mine}");
    const TASK: &str = "query($id: ID!) { task(id: $id) { title assignee { id } } }";
    for task in &tasks {
        assert_eq!(
            app.error_code(&freelancer.token, TASK, json!({ "id": task }))
                .await,
            "NOT_FOUND"
        );
    }
    let open = app
        .data(&admin.token, TASK, json!({ "id": tasks[0] }))
        .await;
    assert_eq!(open["task"]["assignee"], Value::Null, "{open}");
    let done = app
        .data(&admin.token, TASK, json!({ "id": tasks[1] }))
        .await;
    assert_eq!(done["task"]["assignee"]["id"], freelancer_id.as_str());

    // Someone who is not a member cannot be made an assignee.
    let failure = app
        .failure(&admin.token, CREATE,
            json!({ "input": { "projectId": project, "title": "Again", "assigneeId": freelancer_id } }),
        )
        .await;
    assert_eq!(
        fluxorae_tests::error_fields(&failure),
        ["input.assigneeId"],
        "{failure}"
    );
    let update = "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { id } }";
    let failure = app
        .failure(
            &admin.token,
            update,
            json!({ "input": { "taskId": tasks[0], "assigneeId": freelancer_id } }),
        )
        .await;
    assert_eq!(
        fluxorae_tests::error_fields(&failure),
        ["input.assigneeId"],
        "{failure}"
    );

    // Even a task assigned before that rule (straight in the database) of a
    // project the freelancer never joined stays out of myTasks.
    let other = create_project(&app, &admin, client.organization_id, "Elsewhere").await;
    let (stray, _) = create_task(&app, &admin.token, &other, "Stray").await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query("UPDATE tasks SET assignee_id = $1 WHERE id = $2")
        .bind::<diesel::sql_types::Uuid, _>(freelancer.user_id)
        .bind::<diesel::sql_types::Uuid, _>(stray.parse::<uuid::Uuid>().expect("uuid"))
        .execute(&mut app.db().await)
        .await
        .expect("assign in the database");
    let mine = app.data(&freelancer.token, MINE, json!({})).await;
    assert_eq!(mine["myTasks"]["totalCount"], 0, "{mine}");
}

#[tokio::test(flavor = "multi_thread")]
async fn my_tasks_come_soonest_due_first_then_most_urgent_across_pages() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let employee = app.persona(Role::Employee).await;
    let project = create_project(&app, &admin, client.organization_id, "Order").await;
    add_member(&app, &admin, &project, &employee).await;
    const CREATE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";
    // Created in an order unlike the expected one.
    for (title, due, priority) in [
        ("undated urgent", None, "URGENT"),
        ("later low", Some("2027-03-01"), "LOW"),
        ("soon low", Some("2027-01-10"), "LOW"),
        ("soon urgent", Some("2027-01-10"), "URGENT"),
        ("undated low", None, "LOW"),
    ] {
        app.data(&admin.token, CREATE, json!({ "input": { "projectId": project, "title": title, "dueDate": due, "priority": priority, "assigneeId": employee.user_id.to_string() } })).await;
    }
    const MINE: &str = "query($after: String) { myTasks(first: 2, after: $after) { totalCount edges { node { title } } pageInfo { hasNextPage endCursor } } }";
    let mut titles = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .data(&employee.token, MINE, json!({ "after": after }))
            .await;
        let page = &page["myTasks"];
        assert_eq!(page["totalCount"], 5);
        for edge in page["edges"].as_array().expect("edges") {
            titles.push(edge["node"]["title"].as_str().expect("title").to_string());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        titles,
        [
            "soon urgent",
            "soon low",
            "later low",
            "undated urgent",
            "undated low"
        ]
    );
}
