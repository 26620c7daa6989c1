//! Unit tests of the SLA engine.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Asia::Kolkata;
use serde_json::json;

use super::*;

/// "2026-11-30 09:30" in India as a UTC instant.
fn ist(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("local time");
    Kolkata
        .from_local_datetime(&naive)
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc)
}

fn mins(minutes: i64) -> Duration {
    Duration::minutes(minutes)
}

/// An India calendar working `spans` Monday to Friday, with `holidays`.
fn weekdays_in_india(spans: &[(&str, &str)], holidays: &[&str]) -> BusinessCalendar {
    let intervals: Vec<serde_json::Value> = (1..=5)
        .flat_map(|weekday| {
            spans
                .iter()
                .map(move |(start, end)| json!({"weekday": weekday, "start": start, "end": end}))
        })
        .collect();
    let holidays = holidays
        .iter()
        .map(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("date"));
    BusinessCalendar::from_parts("Asia/Kolkata", &json!(intervals), holidays).expect("calendar")
}

/// The seeded India office calendar with Christmas 2026 (a Friday) as a holiday.
fn india() -> BusinessCalendar {
    weekdays_in_india(&[("09:30", "13:00"), ("14:00", "18:00")], &["2026-12-25"])
}

fn high(at: DateTime<Utc>) -> TicketFact {
    TicketFact::Created {
        at,
        priority: TicketPriority::High,
    }
}

fn created(at: DateTime<Utc>, priority: TicketPriority) -> TicketFact {
    TicketFact::Created { at, priority }
}

fn status(at: DateTime<Utc>, to: TicketStatus) -> TicketFact {
    TicketFact::StatusChanged { at, to }
}

fn reply(at: DateTime<Utc>) -> TicketFact {
    TicketFact::StaffReply { at }
}

fn reprioritize(at: DateTime<Utc>, to: TicketPriority) -> TicketFact {
    TicketFact::PriorityChanged { at, to }
}

fn snapshot(calendar: &BusinessCalendar, facts: &[TicketFact], now: DateTime<Utc>) -> SlaSnapshot {
    compute(calendar, Targets::default_for, facts, now).expect("snapshot")
}

#[test]
fn domain_example_1630_with_one_hour_target_is_due_0930_next_working_day() {
    let calendar = weekdays_in_india(&[("09:00", "17:00")], &[]);
    let cases = [
        ("2026-12-01 16:30", "2026-12-02 09:30"), // Tuesday -> Wednesday
        ("2026-12-04 16:30", "2026-12-07 09:30"), // Friday -> Monday
    ];
    for (opened, due) in cases {
        let opened = ist(opened);
        assert_eq!(
            calendar.add_business_time(opened, Duration::hours(1)),
            ist(due),
            "opened {opened}"
        );
        let snap = snapshot(&calendar, &[high(opened)], opened);
        assert_eq!(snap.first_response_due_at, ist(due));
        assert_eq!(snap.state, SlaState::OnTrack);
    }
}

#[test]
fn a_calendar_without_working_time_fails_business_targets_only() {
    let empty = BusinessCalendar::from_parts("Asia/Kolkata", &json!([]), []).expect("empty");
    let opened = ist("2026-11-30 10:00");
    assert_eq!(
        compute(&empty, Targets::default_for, &[high(opened)], opened),
        Err(SlaError::Calendar(CalendarError::NoWorkingTime))
    );
    // Wall-clock targets do not need the calendar.
    let urgent = compute(
        &empty,
        Targets::default_for,
        &[created(opened, TicketPriority::Urgent)],
        opened,
    )
    .expect("urgent");
    assert_eq!(urgent.first_response_due_at, opened + mins(15));
}

#[test]
fn statuses_pause_or_stop_the_resolution_clock() {
    assert!(TicketStatus::WaitingOnClient.pauses_resolution());
    assert!(!TicketStatus::Open.pauses_resolution());
    assert!(TicketStatus::Resolved.is_done() && TicketStatus::Closed.is_done());
    assert!(!TicketStatus::InProgress.is_done());
    let running: Vec<TicketStatus> = TicketStatus::ALL
        .iter()
        .copied()
        .filter(|&status| resolution_runs(status))
        .collect();
    assert_eq!(running, [TicketStatus::Open, TicketStatus::InProgress]);
    assert_eq!(
        Targets::from_minutes(60, 480, true, 15),
        Targets::default_for(TicketPriority::High)
    );
}
#[test]
fn first_response_met_late_missing_and_on_the_dot() {
    let calendar = india();
    let opened = ist("2026-11-30 09:30");
    // (reply, now, breached, state); the high first response is due 10:30.
    let cases = [
        (
            Some("2026-11-30 10:00"),
            "2026-11-30 11:00",
            false,
            SlaState::OnTrack,
        ),
        (
            Some("2026-11-30 10:30"),
            "2026-11-30 11:00",
            false,
            SlaState::OnTrack,
        ),
        (
            Some("2026-11-30 10:45"),
            "2026-11-30 11:00",
            true,
            SlaState::Breached,
        ),
        (None, "2026-11-30 10:00", false, SlaState::OnTrack),
        (None, "2026-11-30 10:15", false, SlaState::AtRisk),
        (None, "2026-11-30 10:31", true, SlaState::Breached),
    ];
    for (replied, now, breached, state) in cases {
        let mut facts = vec![high(opened)];
        facts.extend(replied.map(|at| reply(ist(at))));
        let snap = snapshot(&calendar, &facts, ist(now));
        assert_eq!(snap.first_response_due_at, ist("2026-11-30 10:30"));
        assert_eq!(snap.first_responded_at, replied.map(ist));
        assert_eq!(snap.first_response_breached, breached, "{replied:?} {now}");
        assert_eq!(snap.state, state, "{replied:?} {now}");
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 10:00")));
    }
}

#[test]
fn only_public_staff_replies_are_responses() {
    // Internal notes and customer messages never become facts; status
    // changes alone do not answer the ticket.
    let calendar = india();
    let opened = ist("2026-11-30 09:30");
    let facts = [
        high(opened),
        status(ist("2026-11-30 09:35"), TicketStatus::InProgress),
        status(ist("2026-11-30 09:40"), TicketStatus::WaitingOnClient),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
    assert_eq!(snap.first_responded_at, None);
    assert!(
        snap.first_response_breached,
        "the first-response clock never pauses"
    );
    assert_eq!(snap.resolution_due_at, None);
    assert_eq!(snap.state, SlaState::Breached);
}

#[test]
fn a_pause_extends_the_deadline() {
    let calendar = india();
    let opened = ist("2026-11-30 09:30");
    let facts = [
        high(opened),
        reply(ist("2026-11-30 09:45")),
        status(ist("2026-11-30 11:30"), TicketStatus::WaitingOnClient),
        status(ist("2026-12-02 10:00"), TicketStatus::Open),
    ];
    // While paused: no deadline, six business hours left.
    let paused = snapshot(&calendar, &facts[..3], ist("2026-12-01 15:00"));
    assert_eq!(paused.resolution_due_at, None);
    assert_eq!(paused.resolution_remaining, Duration::hours(6));
    assert_eq!(
        paused.paused_seconds,
        (ist("2026-12-01 15:00") - ist("2026-11-30 11:30")).num_seconds()
    );
    assert_eq!(paused.state, SlaState::OnTrack);
    // Resumed: the six hours count from the resume (without the pause: Tue 10:00).
    let resumed = snapshot(&calendar, &facts, ist("2026-12-02 10:00"));
    assert_eq!(resumed.resolution_due_at, Some(ist("2026-12-02 17:00")));
    assert_eq!(resumed.resolution_remaining, Duration::hours(6));
    assert_eq!(resumed.paused_seconds, 46 * 3600 + 1800);
    assert!(!resumed.resolution_breached);
    let unpaused = snapshot(&calendar, &facts[..2], ist("2026-11-30 11:30"));
    assert_eq!(unpaused.resolution_due_at, Some(ist("2026-12-01 10:00")));
}

#[test]
fn weekends_count_neither_as_business_time_nor_twice_as_pause() {
    let calendar = india();
    let opened = ist("2026-12-04 09:30");
    // Not paused: Friday gives 7.5 h, the weekend nothing.
    let answered = [high(opened), reply(ist("2026-12-04 10:00"))];
    let open = snapshot(&calendar, &answered, ist("2026-12-07 09:45"));
    assert_eq!(open.resolution_due_at, Some(ist("2026-12-07 10:00")));
    assert_eq!(open.resolution_remaining, mins(15));
    assert_eq!(open.state, SlaState::AtRisk);
    // Paused from Friday 15:00 (4.5 h used) to Monday 10:00.
    let facts = [
        high(opened),
        reply(ist("2026-12-04 10:00")),
        status(ist("2026-12-04 15:00"), TicketStatus::WaitingOnClient),
        status(ist("2026-12-07 10:00"), TicketStatus::InProgress),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-12-07 10:00"));
    assert_eq!(snap.resolution_due_at, Some(ist("2026-12-07 14:30")));
    assert_eq!(snap.resolution_remaining, mins(210));
    assert_eq!(snap.paused_seconds, 67 * 3600);
}

#[test]
fn double_pause_and_repeated_statuses_do_not_double_count() {
    let calendar = india();
    let facts = [
        high(ist("2026-11-30 09:30")),
        reply(ist("2026-11-30 09:45")),
        status(ist("2026-11-30 10:30"), TicketStatus::WaitingOnClient),
        status(ist("2026-11-30 11:00"), TicketStatus::WaitingOnClient),
        status(ist("2026-11-30 12:00"), TicketStatus::Open),
        status(ist("2026-11-30 12:30"), TicketStatus::InProgress),
        status(ist("2026-11-30 12:45"), TicketStatus::InProgress),
        status(ist("2026-11-30 14:30"), TicketStatus::WaitingOnClient),
        status(ist("2026-12-01 09:30"), TicketStatus::Open),
    ];
    // Counted: 09:30-10:30, 12:00-13:00, 14:00-14:30 = 2.5 h of 8 h.
    let snap = snapshot(&calendar, &facts, ist("2026-12-01 09:30"));
    assert_eq!(snap.resolution_remaining, mins(330));
    assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 16:00")));
    assert_eq!(snap.paused_seconds, 90 * 60 + 19 * 3600);
    assert_eq!(snap.state, SlaState::OnTrack);
}

#[test]
fn reopening_resumes_the_clock() {
    let calendar = india();
    let mut facts = vec![
        high(ist("2026-11-30 09:30")),
        reply(ist("2026-11-30 09:40")),
        status(ist("2026-11-30 11:30"), TicketStatus::Resolved),
    ];
    let resolved = snapshot(&calendar, &facts, ist("2026-11-30 12:00"));
    assert_eq!(resolved.resolved_at, Some(ist("2026-11-30 11:30")));
    assert_eq!(resolved.state, SlaState::Met);
    assert_eq!(resolved.resolution_remaining, Duration::hours(6));

    facts.push(status(ist("2026-12-01 09:30"), TicketStatus::Open));
    let reopened = snapshot(&calendar, &facts, ist("2026-12-01 10:00"));
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(reopened.status, TicketStatus::Open);
    // The night while resolved counts for nothing: 6 h from Tuesday 09:30.
    assert_eq!(reopened.resolution_due_at, Some(ist("2026-12-01 16:30")));
    assert_eq!(reopened.resolution_remaining, mins(330));
    assert_eq!(reopened.paused_seconds, 0);
    assert_eq!(reopened.state, SlaState::OnTrack);

    // Resolved again later, then closed: resolved_at is the second resolution.
    facts.push(status(ist("2026-12-01 11:00"), TicketStatus::Resolved));
    facts.push(status(ist("2026-12-02 11:00"), TicketStatus::Closed));
    let closed = snapshot(&calendar, &facts, ist("2026-12-03 11:00"));
    assert_eq!(closed.resolved_at, Some(ist("2026-12-01 11:00")));
    assert_eq!(closed.state, SlaState::Met);
}

#[test]
fn priority_changes_retarget_and_keep_elapsed_time() {
    let calendar = india();
    let opened = ist("2026-11-30 09:30");
    // (facts after creation as normal, now, expected resolution due)
    let cases: [(Vec<TicketFact>, &str, &str); 3] = [
        // Up to high after 4 business hours: 4 h of 8 h left.
        (
            vec![reprioritize(ist("2026-11-30 14:30"), TicketPriority::High)],
            "2026-11-30 14:30",
            "2026-12-01 10:00",
        ),
        // Up and down again: normal's 16 h from creation.
        (
            vec![
                reprioritize(ist("2026-11-30 10:00"), TicketPriority::High),
                reprioritize(ist("2026-11-30 11:00"), TicketPriority::Normal),
            ],
            "2026-11-30 11:00",
            "2026-12-02 10:30",
        ),
        // Down to low after 5 h: 35 h of 40 h left.
        (
            vec![reprioritize(ist("2026-11-30 15:30"), TicketPriority::Low)],
            "2026-11-30 15:30",
            "2026-12-07 12:00",
        ),
    ];
    for (changes, now, due) in cases {
        let mut facts = vec![created(opened, TicketPriority::Normal)];
        facts.extend(changes);
        let snap = snapshot(&calendar, &facts, ist(now));
        assert_eq!(snap.resolution_due_at, Some(ist(due)), "{facts:?}");
    }
    // The same as a ticket opened as high.
    let as_high = snapshot(&calendar, &[high(opened)], ist("2026-11-30 14:30"));
    assert_eq!(as_high.resolution_due_at, Some(ist("2026-12-01 10:00")));
}

#[test]
fn an_answered_first_response_keeps_the_targets_it_was_answered_under() {
    let calendar = india();
    let facts = [
        created(ist("2026-11-30 09:30"), TicketPriority::Normal),
        reply(ist("2026-11-30 10:45")),
        reprioritize(ist("2026-11-30 11:00"), TicketPriority::High),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
    assert_eq!(snap.first_response_due_at, ist("2026-11-30 11:30"));
    assert!(!snap.first_response_breached);
    assert_eq!(snap.priority, TicketPriority::High);
    // Unanswered, the current priority's target applies and is already missed.
    let snap = snapshot(&calendar, &[facts[0], facts[2]], ist("2026-11-30 11:00"));
    assert_eq!(snap.first_response_due_at, ist("2026-11-30 10:30"));
    assert!(snap.first_response_breached);
}

#[test]
fn switching_between_wall_clock_and_business_targets_measures_consistently() {
    let calendar = india();
    // Normal, paused 10:00-11:00, urgent at 11:00: 30 wall minutes used of 4 h.
    let facts = [
        created(ist("2026-11-30 09:30"), TicketPriority::Normal),
        status(ist("2026-11-30 10:00"), TicketStatus::WaitingOnClient),
        status(ist("2026-11-30 11:00"), TicketStatus::Open),
        reprioritize(ist("2026-11-30 11:00"), TicketPriority::Urgent),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
    assert_eq!(snap.resolution_due_at, Some(ist("2026-11-30 14:30")));
    assert_eq!(snap.resolution_remaining, mins(210));
    assert_eq!(snap.first_response_due_at, ist("2026-11-30 09:45"));
    assert!(snap.first_response_breached);
    // Urgent on Saturday, high two hours later: no business time used yet.
    let facts = [
        created(ist("2026-12-05 10:00"), TicketPriority::Urgent),
        reprioritize(ist("2026-12-05 12:00"), TicketPriority::High),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-12-05 12:00"));
    assert_eq!(snap.resolution_remaining, Duration::hours(8));
    assert_eq!(snap.resolution_due_at, Some(ist("2026-12-08 10:00")));
    assert_eq!(snap.first_response_due_at, ist("2026-12-07 10:30"));
}

#[test]
fn urgent_targets_count_wall_clock_time() {
    let calendar = india();
    let opened = ist("2026-12-05 03:00"); // Saturday night
    let facts = [created(opened, TicketPriority::Urgent)];
    let cases = [
        ("2026-12-05 03:05", SlaState::OnTrack),
        ("2026-12-05 03:10", SlaState::AtRisk),
        ("2026-12-05 03:15", SlaState::AtRisk),
        ("2026-12-05 03:16", SlaState::Breached),
    ];
    for (now, state) in cases {
        let snap = snapshot(&calendar, &facts, ist(now));
        assert_eq!(snap.first_response_due_at, ist("2026-12-05 03:15"));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-05 07:00")));
        assert_eq!(snap.state, state, "{now}");
    }
}

#[test]
fn at_risk_window_counts_business_time() {
    let calendar = india();
    let facts = [
        high(ist("2026-11-30 09:30")),
        reply(ist("2026-11-30 09:40")),
    ];
    // The resolution is due Tuesday 10:00; warn 15 business minutes before.
    let cases = [
        ("2026-11-30 17:50", SlaState::OnTrack), // 40 business minutes left
        ("2026-12-01 09:44", SlaState::OnTrack),
        ("2026-12-01 09:45", SlaState::AtRisk),
        ("2026-12-01 10:00", SlaState::AtRisk),
        ("2026-12-01 10:01", SlaState::Breached),
    ];
    for (now, state) in cases {
        assert_eq!(snapshot(&calendar, &facts, ist(now)).state, state, "{now}");
    }
    // With a 45-minute warning, 40 business minutes left at Monday 17:50
    // is at risk all night, though 16 wall-clock hours remain.
    let wary = |priority| Targets {
        warn_before: mins(45),
        ..Targets::default_for(priority)
    };
    for now in ["2026-11-30 17:14", "2026-11-30 17:50", "2026-11-30 23:00"] {
        let state = compute(&calendar, wary, &facts, ist(now))
            .expect("snapshot")
            .state;
        let expected = if now.ends_with("17:14") {
            SlaState::OnTrack
        } else {
            SlaState::AtRisk
        };
        assert_eq!(state, expected, "{now}");
    }
    // A paused ticket has no deadline to be at risk of.
    let paused = [
        high(ist("2026-11-30 09:30")),
        reply(ist("2026-11-30 09:40")),
        status(ist("2026-12-01 09:50"), TicketStatus::WaitingOnClient),
    ];
    assert_eq!(
        snapshot(&calendar, &paused, ist("2026-12-01 09:55")).state,
        SlaState::OnTrack
    );
}

#[test]
fn met_or_breached_after_resolution() {
    let calendar = india();
    let opened = ist("2026-11-30 09:30");
    // (reply, resolved, first breached, resolution breached, state)
    let cases = [
        (
            Some("2026-11-30 10:00"),
            "2026-11-30 15:00",
            false,
            false,
            SlaState::Met,
        ),
        (
            Some("2026-11-30 10:00"),
            "2026-12-01 10:00",
            false,
            false,
            SlaState::Met,
        ),
        (
            Some("2026-11-30 10:00"),
            "2026-12-01 10:01",
            false,
            true,
            SlaState::Breached,
        ),
        (
            Some("2026-11-30 11:00"),
            "2026-11-30 15:00",
            true,
            false,
            SlaState::Breached,
        ),
        (None, "2026-11-30 10:15", false, false, SlaState::Met),
        (None, "2026-11-30 11:00", true, false, SlaState::Breached),
    ];
    for (replied, resolved, first, resolution, state) in cases {
        let mut facts = vec![high(opened)];
        facts.extend(replied.map(|at| reply(ist(at))));
        facts.push(status(ist(resolved), TicketStatus::Resolved));
        let snap = snapshot(&calendar, &facts, ist("2026-12-10 12:00"));
        assert_eq!(snap.resolved_at, Some(ist(resolved)));
        assert_eq!(
            snap.first_response_breached, first,
            "{replied:?} {resolved}"
        );
        assert_eq!(
            snap.resolution_breached, resolution,
            "{replied:?} {resolved}"
        );
        assert_eq!(snap.state, state, "{replied:?} {resolved}");
    }
}

#[test]
fn a_deadline_missed_before_a_pause_stays_missed() {
    let calendar = india();
    let facts = [
        high(ist("2026-11-30 09:30")),
        reply(ist("2026-11-30 09:40")),
        status(ist("2026-12-01 11:00"), TicketStatus::WaitingOnClient),
    ];
    let snap = snapshot(&calendar, &facts, ist("2026-12-02 11:00"));
    assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 10:00")));
    assert_eq!(snap.resolution_remaining, Duration::zero());
    assert!(snap.resolution_breached);
    assert_eq!(snap.state, SlaState::Breached);
    // Paused exactly at the deadline is not a breach; resuming is.
    let mut facts = facts;
    facts[2] = status(ist("2026-12-01 10:00"), TicketStatus::WaitingOnClient);
    assert!(!snapshot(&calendar, &facts, ist("2026-12-02 11:00")).resolution_breached);
    let mut resumed = facts.to_vec();
    resumed.push(status(ist("2026-12-03 10:00"), TicketStatus::Open));
    assert!(snapshot(&calendar, &resumed, ist("2026-12-03 10:01")).resolution_breached);
}

#[test]
fn history_is_validated_and_ordered() {
    let calendar = india();
    let now = ist("2026-11-30 12:00");
    let opened = ist("2026-11-30 09:30");
    for facts in [
        vec![],
        vec![reply(ist("2026-11-30 09:00")), high(opened)],
        vec![high(opened), high(ist("2026-11-30 10:00"))],
    ] {
        assert!(matches!(
            compute(&calendar, Targets::default_for, &facts, now),
            Err(SlaError::InvalidHistory(_))
        ));
    }
    // Facts out of order are sorted; `now` before the last fact is raised to it.
    let ordered = [
        high(opened),
        reply(ist("2026-11-30 10:00")),
        status(ist("2026-11-30 11:00"), TicketStatus::Resolved),
    ];
    let shuffled = [ordered[2], ordered[0], ordered[1]];
    assert_eq!(
        snapshot(&calendar, &shuffled, now),
        snapshot(&calendar, &ordered, now)
    );
    let early = snapshot(&calendar, &ordered, ist("2026-11-30 10:30"));
    assert_eq!(early.resolved_at, Some(ist("2026-11-30 11:00")));
}
