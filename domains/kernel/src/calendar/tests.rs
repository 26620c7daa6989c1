//! Unit tests of the business calendar.

use super::*;
use chrono_tz::America::New_York;
use chrono_tz::Asia::Kolkata;
use chrono_tz::Europe::London;
use serde_json::json;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// A local wall time ("2026-11-30 09:30") in `tz` as a UTC instant.
fn local(tz: Tz, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("local time");
    tz.from_local_datetime(&naive)
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc)
}

fn ist(text: &str) -> DateTime<Utc> {
    local(Kolkata, text)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn mins(minutes: i64) -> Duration {
    Duration::minutes(minutes)
}

fn show(calendar: &BusinessCalendar, at: DateTime<Utc>) -> String {
    at.with_timezone(&calendar.time_zone())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn seed_intervals() -> serde_json::Value {
    let mut intervals = Vec::new();
    for weekday in 1..=5 {
        intervals.push(json!({"weekday": weekday, "start": "09:30", "end": "13:00"}));
        intervals.push(json!({"weekday": weekday, "start": "14:00", "end": "18:00"}));
    }
    serde_json::Value::Array(intervals)
}

/// The seeded India office calendar with Christmas 2026 (a Friday) as a holiday.
fn india() -> BusinessCalendar {
    BusinessCalendar::from_parts("Asia/Kolkata", &seed_intervals(), [date("2026-12-25")])
        .expect("india calendar")
}

fn nine_to_five(tz: Tz) -> BusinessCalendar {
    let intervals = WEEKDAYS[..5]
        .iter()
        .map(|&weekday| WorkInterval {
            weekday,
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            end: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
        })
        .collect();
    BusinessCalendar::new(tz, intervals, []).expect("calendar")
}

fn sunday_calendar(start: &str, end: &str) -> BusinessCalendar {
    BusinessCalendar::from_parts(
        "America/New_York",
        &json!([{"weekday": 7, "start": start, "end": end}]),
        [],
    )
    .expect("sunday calendar")
}

/// Day by day, without skipping weeks: the reference for the fast paths.
fn reference_between(calendar: &BusinessCalendar, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
    let mut total = Duration::zero();
    let mut day = calendar.local_date(a).pred_opt().expect("day");
    let last = calendar.local_date(b).succ_opt().expect("day");
    while day <= last {
        for (start, end) in calendar.day_spans(day) {
            let (start, end) = (start.max(a), end.min(b));
            if start < end {
                total += end - start;
            }
        }
        day = day.succ_opt().expect("day");
    }
    total
}

#[test]
fn add_business_time_with_lunch_breaks_weekends_and_holidays() {
    let calendar = india();
    let cases = [
        ("2026-11-30 09:30", 60, "2026-11-30 10:30", "inside hours"),
        ("2026-11-30 12:30", 60, "2026-11-30 14:30", "across lunch"),
        ("2026-11-30 13:00", 60, "2026-11-30 15:00", "at lunch start"),
        ("2026-11-30 13:30", 30, "2026-11-30 14:30", "during lunch"),
        ("2026-11-30 08:00", 60, "2026-11-30 10:30", "before opening"),
        ("2026-11-30 00:00", 1, "2026-11-30 09:31", "at midnight"),
        ("2026-11-30 19:00", 60, "2026-12-01 10:30", "after closing"),
        (
            "2026-11-30 17:30",
            60,
            "2026-12-01 10:00",
            "across the night",
        ),
        (
            "2026-11-30 17:30",
            30,
            "2026-11-30 18:00",
            "lands on closing",
        ),
        ("2026-11-30 09:30", 450, "2026-11-30 18:00", "one full day"),
        (
            "2026-11-30 09:30",
            451,
            "2026-12-01 09:31",
            "a day and a minute",
        ),
        (
            "2026-12-04 17:30",
            60,
            "2026-12-07 10:00",
            "across the weekend",
        ),
        (
            "2026-12-05 11:00",
            60,
            "2026-12-07 10:30",
            "start on Saturday",
        ),
        (
            "2026-11-30 09:30",
            2400,
            "2026-12-07 12:00",
            "five business days",
        ),
        (
            "2026-12-24 17:30",
            60,
            "2026-12-28 10:00",
            "holiday on the due day",
        ),
        (
            "2026-12-25 10:00",
            60,
            "2026-12-28 10:30",
            "start on a holiday",
        ),
        ("2026-12-05 11:00", 0, "2026-12-05 11:00", "zero amount"),
    ];
    for (start, minutes, expected, why) in cases {
        let at = calendar.add_business_time(ist(start), mins(minutes));
        assert_eq!(show(&calendar, at), expected, "{why}");
    }
    assert_eq!(
        calendar.add_business_time(ist("2026-11-30 10:00"), mins(-5)),
        ist("2026-11-30 10:00")
    );
}

#[test]
fn business_time_between_table() {
    let calendar = india();
    let cases = [
        ("2026-11-30 09:00", "2026-11-30 19:00", 450, "a whole day"),
        (
            "2026-11-30 12:00",
            "2026-11-30 15:00",
            120,
            "lunch excluded",
        ),
        ("2026-11-30 13:10", "2026-11-30 13:50", 0, "inside lunch"),
        (
            "2026-12-04 17:00",
            "2026-12-07 10:30",
            120,
            "weekend excluded",
        ),
        (
            "2026-12-24 17:00",
            "2026-12-28 10:00",
            90,
            "holiday excluded",
        ),
        (
            "2026-11-30 00:00",
            "2026-12-28 00:00",
            4 * 2250 - 450,
            "four weeks, one holiday",
        ),
        ("2026-11-30 10:00", "2026-11-30 10:00", 0, "empty"),
        ("2026-11-30 11:00", "2026-11-30 10:00", 0, "reversed"),
    ];
    for (a, b, minutes, why) in cases {
        assert_eq!(
            calendar.business_time_between(ist(a), ist(b)),
            mins(minutes),
            "{why}"
        );
    }
    assert_eq!(calendar.weekly_working_time(), mins(2250));
}

#[test]
fn add_and_between_are_inverse() {
    let calendars = [india(), nine_to_five(New_York), nine_to_five(London)];
    let amounts = [1, 29, 60, 449, 450, 451, 2400, 10_000];
    for calendar in &calendars {
        // Every 53 minutes over three weeks around the US and UK clock changes.
        let mut start = utc("2027-03-05T00:07:00Z");
        while start < utc("2027-03-26T00:00:00Z") {
            for minutes in amounts {
                let amount = mins(minutes);
                let end = calendar.add_business_time(start, amount);
                assert_eq!(
                    calendar.business_time_between(start, end),
                    amount,
                    "{start} + {minutes}"
                );
                // The earliest such instant: a second less is not enough.
                let before = end - Duration::seconds(1);
                assert!(calendar.business_time_between(start, before) < amount);
                assert_eq!(
                    calendar.add_business_time(start, calendar.business_time_between(start, end)),
                    end
                );
            }
            start += mins(53);
        }
    }
}

#[test]
fn long_spans_skip_weeks_and_match_the_day_by_day_reference() {
    let holidays = [date("2027-01-26"), date("2027-08-15"), date("2027-10-02")];
    let calendars = [
        BusinessCalendar::from_parts("Asia/Kolkata", &seed_intervals(), holidays)
            .expect("calendar"),
        nine_to_five(New_York),
        nine_to_five(London),
    ];
    let start = utc("2026-11-30T11:17:00Z");
    for calendar in &calendars {
        for hours in [100_i64, 1_000, 3_000] {
            let end = calendar.add_business_time(start, Duration::hours(hours));
            assert_eq!(
                reference_between(calendar, start, end),
                Duration::hours(hours)
            );
            assert_eq!(
                calendar.business_time_between(start, end),
                Duration::hours(hours)
            );
        }
    }
    // Decades of business time stay fast and exact.
    let calendar = india();
    let amount = Duration::hours(100_000);
    let end = calendar.add_business_time(start, amount);
    assert!(end > utc("2070-01-01T00:00:00Z"));
    assert_eq!(calendar.business_time_between(start, end), amount);
}

#[test]
fn kolkata_half_hour_offset() {
    let calendar = india();
    assert_eq!(ist("2026-11-30 09:30"), utc("2026-11-30T04:00:00Z"));
    assert_eq!(
        calendar.add_business_time(utc("2026-11-30T03:00:00Z"), mins(60)),
        utc("2026-11-30T05:00:00Z")
    );
    assert!(calendar.is_working_time(utc("2026-11-30T04:00:00Z")));
    assert!(!calendar.is_working_time(utc("2026-11-30T03:59:59Z")));
    assert!(!calendar.is_working_time(utc("2026-11-30T07:45:00Z")));
}

#[test]
fn same_local_hours_in_different_zones() {
    let opened = "2026-12-01 16:30";
    let cases = [
        (Kolkata, "2026-12-02T04:00:00Z"),
        (New_York, "2026-12-02T14:30:00Z"),
        (London, "2026-12-02T09:30:00Z"),
    ];
    for (tz, expected) in cases {
        let calendar = nine_to_five(tz);
        let due = calendar.add_business_time(local(tz, opened), mins(60));
        assert_eq!(due, utc(expected), "{tz}");
        assert_eq!(show(&calendar, due), "2026-12-02 09:30");
    }
}

#[test]
fn clock_changes_in_new_york_and_london() {
    let new_york = nine_to_five(New_York);
    // Spring forward on Sunday 2027-03-14: Friday is EST, Monday EDT.
    let due = new_york.add_business_time(local(New_York, "2027-03-12 16:30"), mins(60));
    assert_eq!(due, utc("2027-03-15T13:30:00Z"));
    assert_eq!(
        new_york.business_time_between(
            local(New_York, "2027-03-12 09:00"),
            local(New_York, "2027-03-15 17:00")
        ),
        Duration::hours(16)
    );
    // Fall back on Sunday 2026-11-01: Friday is EDT, Monday EST.
    let due = new_york.add_business_time(local(New_York, "2026-10-30 16:30"), mins(60));
    assert_eq!(due, utc("2026-11-02T14:30:00Z"));
    // London leaves GMT on Sunday 2027-03-28.
    let london = nine_to_five(London);
    let due = london.add_business_time(utc("2027-03-26T16:30:00Z"), mins(60));
    assert_eq!(due, utc("2027-03-29T08:30:00Z"));
    assert_eq!(
        london.business_time_between(utc("2027-03-26T00:00:00Z"), utc("2027-04-02T23:00:00Z")),
        Duration::hours(48)
    );
}

#[test]
fn working_intervals_through_a_clock_change() {
    let week = |calendar: &BusinessCalendar, saturday: &str| {
        let start = local(New_York, &format!("{saturday} 12:00"));
        calendar.business_time_between(start, start + Duration::days(2))
    };
    let early = sunday_calendar("01:00", "04:00");
    assert_eq!(
        week(&early, "2027-03-06"),
        Duration::hours(3),
        "an ordinary Sunday"
    );
    assert_eq!(
        week(&early, "2027-03-13"),
        Duration::hours(2),
        "02:00-03:00 is skipped"
    );
    assert_eq!(
        week(&early, "2026-10-31"),
        Duration::hours(4),
        "01:00-02:00 happens twice"
    );
    // An interval starting inside the gap starts when the gap ends (03:00 EDT).
    let in_gap = sunday_calendar("02:30", "05:00");
    assert_eq!(week(&in_gap, "2027-03-13"), Duration::hours(2));
    assert_eq!(
        in_gap.add_business_time(local(New_York, "2027-03-13 12:00"), mins(1)),
        utc("2027-03-14T07:01:00Z")
    );
}

#[test]
fn from_parts_parses_the_seed_and_rejects_bad_data() {
    let calendar = india();
    assert_eq!(calendar.time_zone(), Kolkata);
    assert_eq!(calendar.intervals().len(), 10);
    assert_eq!(calendar.holidays().len(), 1);

    let err = |tz: &str, intervals: serde_json::Value| {
        BusinessCalendar::from_parts(tz, &intervals, []).expect_err("invalid calendar")
    };
    assert_eq!(
        err("Mars/Olympus", json!([])),
        CalendarError::UnknownTimeZone("Mars/Olympus".into())
    );
    for bad in [
        json!({"weekday": 1}),
        json!([{"weekday": 0, "start": "09:00", "end": "10:00"}]),
        json!([{"weekday": 8, "start": "09:00", "end": "10:00"}]),
        json!([{"weekday": 1, "start": "9am", "end": "10:00"}]),
        json!([{"weekday": 1, "start": "24:00", "end": "10:00"}]),
        json!([{"weekday": 1, "start": "09:00"}]),
        json!([{"weekday": "Mon", "start": "09:00", "end": "10:00"}]),
    ] {
        assert!(
            matches!(err("UTC", bad.clone()), CalendarError::InvalidIntervals(_)),
            "{bad}"
        );
    }
    assert!(matches!(
        err(
            "UTC",
            json!([{"weekday": 2, "start": "10:00", "end": "10:00"}])
        ),
        CalendarError::EmptyInterval {
            weekday: Weekday::Tue,
            ..
        }
    ));
    assert!(matches!(
        err(
            "UTC",
            json!([{"weekday": 2, "start": "11:00", "end": "10:00"}])
        ),
        CalendarError::EmptyInterval { .. }
    ));
    assert_eq!(
        err(
            "UTC",
            json!([
                {"weekday": 3, "start": "09:00", "end": "12:00"},
                {"weekday": 3, "start": "11:59", "end": "15:00"}
            ])
        ),
        CalendarError::OverlappingIntervals(Weekday::Wed)
    );
    // Touching intervals and seconds are fine.
    let touching = BusinessCalendar::from_parts(
        "UTC",
        &json!([
            {"weekday": 3, "start": "09:00", "end": "12:00"},
            {"weekday": 3, "start": "12:00", "end": "15:00:30"}
        ]),
        [],
    )
    .expect("touching intervals");
    assert_eq!(
        touching.weekly_working_time(),
        Duration::seconds(6 * 3600 + 30)
    );
}

#[test]
fn an_interval_can_end_at_midnight() {
    let calendar = BusinessCalendar::from_parts(
        "Asia/Kolkata",
        &json!([
            {"weekday": 1, "start": "22:00", "end": "24:00"},
            {"weekday": 2, "start": "00:00", "end": "02:00"}
        ]),
        [],
    )
    .expect("night shift");
    assert_eq!(calendar.weekly_working_time(), Duration::hours(4));
    let due = calendar.add_business_time(ist("2026-11-30 23:00"), mins(90));
    assert_eq!(show(&calendar, due), "2026-12-01 00:30");
    assert_eq!(
        calendar.business_time_between(ist("2026-11-30 00:00"), ist("2026-12-02 00:00")),
        Duration::hours(4)
    );
}

#[test]
fn a_calendar_without_working_time_is_an_error() {
    let empty = BusinessCalendar::from_parts("Asia/Kolkata", &json!([]), []).expect("empty");
    let opened = ist("2026-11-30 10:00");
    assert_eq!(
        empty.checked_add_business_time(opened, mins(1)),
        Err(CalendarError::NoWorkingTime)
    );
    assert_eq!(
        empty.add_business_time(opened, mins(1)),
        DateTime::<Utc>::MAX_UTC
    );
    assert_eq!(
        empty.business_time_between(opened, opened + Duration::days(30)),
        Duration::zero()
    );

    // Only Mondays, and the next 60 Mondays are holidays: the search gives up.
    let mondays = (0..60).map(|week| date("2026-11-30") + Days::new(7 * week));
    let mondays_off = BusinessCalendar::from_parts(
        "Asia/Kolkata",
        &json!([{"weekday": 1, "start": "09:00", "end": "17:00"}]),
        mondays,
    )
    .expect("calendar");
    assert_eq!(
        mondays_off.checked_add_business_time(opened, mins(1)),
        Err(CalendarError::NoWorkingTime)
    );
}
