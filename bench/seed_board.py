#!/usr/bin/env python3
"""Seeds the Kanban board benchmark through the server's own GraphQL API.

Usage: bench/seed_board.py URL --psql PSQL --pg-port PORT --org-id ID
                           --admin-email E --client-email E --password P
                           --employee-email E [--employee-email E ...]
                           --projects-out FILE --token-out FILE
                           [--projects 200] [--tasks 50] [--threads 8]

Creates, as the admin, `--projects` projects ("Bench Board 001", ...) for the
client organization, one milestone each and `--tasks` tasks each, spread over
the four columns, four priorities and the employees (plus unassigned), who
become members of each project first. It is idempotent and resumable: what
already exists (read with psql) is kept and only what is missing is created. Each worker thread seeds whole projects, so
tasks of one column are never created concurrently. Then it logs in as the
client, checks one board answer (no errors, `--tasks` tasks), and writes the
project ids (one a line) and the client's access token for the load tool.
Prints one JSON line with what it did. Standard library only.
"""
import argparse
import concurrent.futures
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.parse

PREFIX = "Bench Board"
COLUMNS = ["TODO", "IN_PROGRESS", "IN_REVIEW", "DONE"]
PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"]
BOARD_QUERY = (
    "query($id: ID!) { project(id: $id) { name board { columns { status tasks "
    "{ id title priority orderKey version assignee { name } milestone { name } } } } } }"
)
CREATE_PROJECT = (
    "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }"
)
ADD_MEMBER = (
    "mutation($input: AddProjectMemberInput!) { addProjectMember(input: $input) { projectRole } }"
)
CREATE_MILESTONE = (
    "mutation($input: CreateMilestoneInput!) { createMilestone(input: $input) { id } }"
)
CREATE_TASK = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }"


class Api:
    """A keep-alive HTTP connection per thread, and the admin token (renewed on 401)."""

    def __init__(self, base, email, password):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.email, self.password = email, password
        self.local = threading.local()
        self.lock = threading.Lock()
        self.token = None
        self.requests = 0

    def _request(self, path, body, token=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode()
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                with self.lock:
                    self.requests += 1
                return response.status, json.loads(payload) if payload else {}
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def login(self, email=None, password=None):
        status, payload = self._request(
            "/auth/login",
            {"email": email or self.email, "password": password or self.password},
        )
        if status != 200 or "accessToken" not in payload:
            sys.exit(f"login as {email or self.email} failed: {status} {payload}")
        return payload["accessToken"]

    def admin_token(self, stale=None):
        # One sign-in at a time: every password check of an account counts
        # against its lockout until it has passed, so threads signing in
        # together would lock the admin out.
        with self.lock:
            if self.token is None or self.token == stale:
                self.token = self.login()
            return self.token

    def graphql(self, query, variables, token=None):
        """Runs an operation (as the admin unless `token`); answers `data` or exits."""
        own = token is None
        for _ in range(2):
            used = self.admin_token() if own else token
            status, payload = self._request(
                "/graphql", {"query": query, "variables": variables}, used
            )
            if own and status == 401:
                self.admin_token(stale=used)
                continue
            break
        if status != 200 or payload.get("errors"):
            raise RuntimeError(f"{status} {json.dumps(payload)[:500]}")
        return payload["data"]


def psql_rows(args, sql):
    output = subprocess.run(
        [args.psql, "-X", "-q", "-At", "-F", "|", "-h", "127.0.0.1", "-p", str(args.pg_port),
         "-U", "postgres", "-d", "fluxorae", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line.split("|") for line in output.splitlines() if line]


def quote(value):
    return "'" + value.replace("'", "''") + "'"


def existing_projects(args):
    """name -> (project id, task count, a milestone id or '')."""
    rows = psql_rows(
        args,
        f"""SELECT p.id, p.name,
                   (SELECT count(*) FROM tasks t WHERE t.project_id = p.id),
                   coalesce((SELECT m.id::text FROM milestones m WHERE m.project_id = p.id
                             ORDER BY m.created_at LIMIT 1), '')
              FROM projects p
             WHERE p.organization_id = {quote(args.org_id)}
               AND p.name LIKE {quote(PREFIX + ' %')}
               AND p.archived_at IS NULL""",
    )
    return {name: (pid, int(count), milestone) for pid, name, count, milestone in rows}


def seed_project(api, args, number, found, employees):
    """Creates what is missing of project `number`; answers (id, tasks created)."""
    name = f"{PREFIX} {number:03d}"
    project_id, have, milestone_id = found.get(name, (None, 0, ""))
    if project_id is None:
        project_id = api.graphql(
            CREATE_PROJECT,
            {"input": {"organizationId": args.org_id, "name": name,
                       "description": "Seeded by bench/seed_board.py"}},
        )["createProject"]["id"]
    if not milestone_id:
        milestone_id = api.graphql(
            CREATE_MILESTONE,
            {"input": {"projectId": project_id, "name": f"Milestone {number:03d}"}},
        )["createMilestone"]["id"]
    created = 0
    if have < args.tasks:
        # Tasks are assigned to members of the project only.
        for employee in employees:
            api.graphql(
                ADD_MEMBER,
                {"input": {"projectId": project_id, "userId": employee,
                           "projectRole": "developer"}},
            )
    for index in range(have, args.tasks):
        task = {
            "projectId": project_id,
            "title": f"Task {index + 1:02d} of project {number:03d}",
            "status": COLUMNS[index % len(COLUMNS)],
            "priority": PRIORITIES[(index * 7 + number) % len(PRIORITIES)],
        }
        slot = (index + number) % (len(employees) + 1)
        if slot < len(employees):  # one task in six stays unassigned
            task["assigneeId"] = employees[slot]
        if index % 3 != 2:  # two tasks in three belong to the milestone
            task["milestoneId"] = milestone_id
        api.graphql(CREATE_TASK, {"input": task})
        created += 1
    return project_id, created


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--psql", default="psql")
    parser.add_argument("--pg-port", required=True)
    parser.add_argument("--org-id", required=True)
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--client-email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--employee-email", action="append", default=[])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--projects-out", required=True)
    parser.add_argument("--token-out", required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    api = Api(base, args.admin_email, args.password)

    emails = ", ".join(quote(email) for email in args.employee_email)
    employees = [row[0] for row in psql_rows(
        args, f"SELECT id FROM users WHERE email IN ({emails}) ORDER BY email")] if emails else []

    started = time.perf_counter()
    found = existing_projects(args)
    todo = [
        number for number in range(1, args.projects + 1)
        if found.get(f"{PREFIX} {number:03d}", (None, 0, ""))[1] < args.tasks
        or not found.get(f"{PREFIX} {number:03d}", (None, 0, ""))[2]
    ]
    created_tasks = 0
    if todo:
        pool = concurrent.futures.ThreadPoolExecutor(args.threads)
        futures = [pool.submit(seed_project, api, args, n, found, employees) for n in todo]
        try:
            for future in concurrent.futures.as_completed(futures):
                created_tasks += future.result()[1]
        finally:
            pool.shutdown(cancel_futures=True)
    seconds = time.perf_counter() - started

    found = existing_projects(args)
    ids = [found[f"{PREFIX} {n:03d}"][0] for n in range(1, args.projects + 1)]
    short = [n for n in range(1, args.projects + 1) if found[f"{PREFIX} {n:03d}"][1] != args.tasks]
    if short:
        sys.exit(f"projects without exactly {args.tasks} tasks: {short[:10]}")
    with open(args.projects_out, "w") as out:
        out.write("\n".join(ids) + "\n")

    client_token = api.login(args.client_email, args.password)
    with open(args.token_out, "w") as out:
        out.write(client_token)
    board = api.graphql(BOARD_QUERY, {"id": ids[0]}, token=client_token)["project"]["board"]
    tasks = sum(len(column["tasks"]) for column in board["columns"])
    if tasks != args.tasks:
        sys.exit(f"sample board of {ids[0]} has {tasks} tasks, expected {args.tasks}")

    print(json.dumps({
        "projects_seeded": len(todo),
        "tasks_created": created_tasks,
        "http_requests": api.requests,
        "seconds": round(seconds, 1),
        "requests_per_second": round(api.requests / seconds, 1) if todo and seconds else None,
        "sample_board": {"project": ids[0], "tasks": tasks, "errors": 0},
    }))


if __name__ == "__main__":
    main()
