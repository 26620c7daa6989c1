//! Loads SLA policies and the business calendar, turns a ticket's events into
//! facts and computes its SLA with the pure engine in [`crate::sla`].

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::AppError;
use kernel::schema::{business_calendars, business_holidays, sla_policies};

use crate::model::TicketEvent;
use crate::sla::{self, BusinessCalendar, Priority, SlaSnapshot, Status, Targets, TicketFact};

/// Everything the engine needs besides the ticket's history.
pub struct SlaRules {
    /// The default business calendar.
    pub calendar: BusinessCalendar,
    /// Targets per priority.
    pub targets: HashMap<String, Targets>,
}

impl SlaRules {
    /// Reads the default calendar, its holidays and the policies.
    pub async fn load(conn: &mut AsyncPgConnection) -> Result<Self, AppError> {
        let (calendar_id, time_zone, intervals): (uuid::Uuid, String, serde_json::Value) =
            business_calendars::table
                .filter(business_calendars::is_default.eq(true))
                .select((
                    business_calendars::id,
                    business_calendars::time_zone,
                    business_calendars::intervals,
                ))
                .first(conn)
                .await?;
        let holidays: Vec<NaiveDate> = business_holidays::table
            .filter(business_holidays::calendar_id.eq(calendar_id))
            .select(business_holidays::day)
            .load(conn)
            .await?;
        let calendar = BusinessCalendar::from_parts(&time_zone, &intervals, holidays)
            .map_err(|error| AppError::internal(error.to_string()))?;
        let rows: Vec<(String, i32, i32, bool, i32)> = sla_policies::table
            .select((
                sla_policies::priority,
                sla_policies::first_response_minutes,
                sla_policies::resolution_minutes,
                sla_policies::business_hours_only,
                sla_policies::warn_before_minutes,
            ))
            .load(conn)
            .await?;
        let targets = rows
            .into_iter()
            .map(|(priority, first, resolution, business, warn)| {
                (
                    priority,
                    Targets {
                        first_response: chrono::Duration::minutes(first.into()),
                        resolution: chrono::Duration::minutes(resolution.into()),
                        business_hours_only: business,
                        warn_before: chrono::Duration::minutes(warn.into()),
                    },
                )
            })
            .collect();
        Ok(Self { calendar, targets })
    }

    fn targets_for(&self, priority: Priority) -> Targets {
        self.targets
            .get(priority.as_db())
            .cloned()
            .unwrap_or(Targets {
                first_response: chrono::Duration::hours(2),
                resolution: chrono::Duration::hours(16),
                business_hours_only: true,
                warn_before: chrono::Duration::minutes(30),
            })
    }

    /// The SLA of a ticket from its history (oldest event first).
    pub fn compute(
        &self,
        events: &[TicketEvent],
        now: DateTime<Utc>,
    ) -> Result<SlaSnapshot, AppError> {
        let facts: Vec<TicketFact> = events.iter().filter_map(fact_of).collect();
        sla::compute(
            &self.calendar,
            |priority| self.targets_for(priority),
            &facts,
            now,
        )
        .map_err(|error| AppError::internal(error.to_string()))
    }
}

fn fact_of(event: &TicketEvent) -> Option<TicketFact> {
    let at = event.occurred_at;
    let text = |key: &str| event.data.get(key).and_then(|value| value.as_str());
    match event.kind.as_str() {
        "created" => Some(TicketFact::Created {
            at,
            priority: Priority::from_db(text("priority")?).ok()?,
        }),
        "status_changed" => Some(TicketFact::StatusChanged {
            at,
            to: Status::from_db(text("to")?).ok()?,
        }),
        "priority_changed" => Some(TicketFact::PriorityChanged {
            at,
            to: Priority::from_db(text("to")?).ok()?,
        }),
        "staff_reply" => Some(TicketFact::StaffReply { at }),
        // Internal notes and client messages do not move the SLA clocks.
        _ => None,
    }
}

/// A row of `sla_policies`.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    /// Priority (database form).
    pub priority: String,
    /// Minutes to first response.
    pub first_response_minutes: i32,
    /// Minutes to resolution.
    pub resolution_minutes: i32,
    /// Business hours only.
    pub business_hours_only: bool,
    /// Warning lead time.
    pub warn_before_minutes: i32,
}

/// The default calendar as stored.
#[derive(Debug, Clone)]
pub struct CalendarRow {
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// (weekday, start, end).
    pub intervals: Vec<(i32, String, String)>,
    /// (day, name).
    pub holidays: Vec<(NaiveDate, String)>,
}

/// Editing SLA policies and the business calendar.
pub struct SlaAdmin {
    db: kernel::Db,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct IntervalJson {
    weekday: i32,
    start: String,
    end: String,
}

impl SlaAdmin {
    /// Over the pool.
    pub fn new(db: kernel::Db) -> Self {
        Self { db }
    }

    /// Every policy, most urgent first.
    pub async fn policies(&self) -> Result<Vec<PolicyRow>, AppError> {
        let mut conn = self.db.get().await?;
        let rows: Vec<(String, i32, i32, bool, i32)> = sla_policies::table
            .select((
                sla_policies::priority,
                sla_policies::first_response_minutes,
                sla_policies::resolution_minutes,
                sla_policies::business_hours_only,
                sla_policies::warn_before_minutes,
            ))
            .load(&mut conn)
            .await?;
        let mut rows: Vec<PolicyRow> = rows
            .into_iter()
            .map(
                |(
                    priority,
                    first_response_minutes,
                    resolution_minutes,
                    business_hours_only,
                    warn_before_minutes,
                )| PolicyRow {
                    priority,
                    first_response_minutes,
                    resolution_minutes,
                    business_hours_only,
                    warn_before_minutes,
                },
            )
            .collect();
        let rank = |p: &str| {
            ["urgent", "high", "normal", "low"]
                .iter()
                .position(|x| *x == p)
                .unwrap_or(4)
        };
        rows.sort_by_key(|row| rank(&row.priority));
        Ok(rows)
    }

    /// Changes one policy (admins).
    pub async fn update_policy(
        &self,
        principal: &kernel::Principal,
        row: PolicyRow,
    ) -> Result<PolicyRow, AppError> {
        principal.require("support:sla.manage")?;
        if row.first_response_minutes < 1 || row.resolution_minutes < 1 {
            return Err(AppError::invalid_field(
                "input.resolutionMinutes",
                "Targets are at least one minute",
            ));
        }
        if row.warn_before_minutes < 0 {
            return Err(AppError::invalid_field(
                "input.warnBeforeMinutes",
                "Must not be negative",
            ));
        }
        let mut conn = self.db.get().await?;
        diesel::update(sla_policies::table.find(&row.priority))
            .set((
                sla_policies::first_response_minutes.eq(row.first_response_minutes),
                sla_policies::resolution_minutes.eq(row.resolution_minutes),
                sla_policies::business_hours_only.eq(row.business_hours_only),
                sla_policies::warn_before_minutes.eq(row.warn_before_minutes),
                sla_policies::updated_at.eq(Utc::now()),
            ))
            .execute(&mut conn)
            .await?;
        Ok(row)
    }

    /// The default calendar.
    pub async fn calendar(&self) -> Result<CalendarRow, AppError> {
        let mut conn = self.db.get().await?;
        let (id, name, time_zone, intervals): (uuid::Uuid, String, String, serde_json::Value) =
            business_calendars::table
                .filter(business_calendars::is_default.eq(true))
                .select((
                    business_calendars::id,
                    business_calendars::name,
                    business_calendars::time_zone,
                    business_calendars::intervals,
                ))
                .first(&mut conn)
                .await?;
        let holidays: Vec<(NaiveDate, String)> = business_holidays::table
            .filter(business_holidays::calendar_id.eq(id))
            .order(business_holidays::day.asc())
            .select((business_holidays::day, business_holidays::name))
            .load(&mut conn)
            .await?;
        let intervals: Vec<IntervalJson> =
            serde_json::from_value(intervals).map_err(AppError::internal)?;
        Ok(CalendarRow {
            name,
            time_zone,
            intervals: intervals
                .into_iter()
                .map(|i| (i.weekday, i.start, i.end))
                .collect(),
            holidays,
        })
    }

    /// Replaces the time zone and intervals, after the engine accepts them.
    pub async fn update_calendar(
        &self,
        principal: &kernel::Principal,
        time_zone: &str,
        intervals: Vec<(i32, String, String)>,
    ) -> Result<CalendarRow, AppError> {
        principal.require("support:sla.manage")?;
        let json = serde_json::to_value(
            intervals
                .iter()
                .map(|(weekday, start, end)| IntervalJson {
                    weekday: *weekday,
                    start: start.clone(),
                    end: end.clone(),
                })
                .collect::<Vec<_>>(),
        )
        .map_err(AppError::internal)?;
        BusinessCalendar::from_parts(time_zone, &json, Vec::new())
            .map_err(|error| AppError::invalid_field("input.intervals", error.to_string()))?;
        let mut conn = self.db.get().await?;
        diesel::update(business_calendars::table.filter(business_calendars::is_default.eq(true)))
            .set((
                business_calendars::time_zone.eq(time_zone),
                business_calendars::intervals.eq(json),
                business_calendars::updated_at.eq(Utc::now()),
            ))
            .execute(&mut conn)
            .await?;
        drop(conn);
        self.calendar().await
    }

    /// Adds, renames (`Some(name)`) or removes (`None`) a holiday.
    pub async fn set_holiday(
        &self,
        principal: &kernel::Principal,
        day: NaiveDate,
        name: Option<&str>,
    ) -> Result<CalendarRow, AppError> {
        principal.require("support:sla.manage")?;
        let mut conn = self.db.get().await?;
        let calendar: uuid::Uuid = business_calendars::table
            .filter(business_calendars::is_default.eq(true))
            .select(business_calendars::id)
            .first(&mut conn)
            .await?;
        match name.map(str::trim) {
            Some("") => return Err(AppError::invalid_field("name", "Name the holiday")),
            Some(name) => {
                diesel::insert_into(business_holidays::table)
                    .values((
                        business_holidays::calendar_id.eq(calendar),
                        business_holidays::day.eq(day),
                        business_holidays::name.eq(name),
                    ))
                    .on_conflict((business_holidays::calendar_id, business_holidays::day))
                    .do_update()
                    .set(business_holidays::name.eq(name))
                    .execute(&mut conn)
                    .await?;
            }
            None => {
                diesel::delete(business_holidays::table.find((calendar, day)))
                    .execute(&mut conn)
                    .await?;
            }
        }
        drop(conn);
        self.calendar().await
    }
}
