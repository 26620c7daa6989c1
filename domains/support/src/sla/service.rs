//! SLA use cases: a ticket's SLA from its history, and admins' edits of the
//! policies and the business calendar.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::calendar::BusinessCalendar;
use kernel::schema::{business_calendars, business_holidays, sla_policies};
use kernel::{AppError, Db, Principal};

use super::engine::{self, SlaSnapshot, Targets, TicketFact};
use super::model::{CalendarRow, SlaPolicy, StoredInterval};
use super::repo;
use crate::model::{HistoryKind, TicketEvent, TicketPriority, TicketStatus};

/// The permission to edit policies and the calendar.
pub const SLA_MANAGE: &str = "support:sla.manage";

/// Everything the engine needs besides the ticket's history.
pub struct SlaRules {
    /// The default business calendar.
    pub calendar: BusinessCalendar,
    /// Targets per priority.
    pub targets: HashMap<TicketPriority, Targets>,
}

impl SlaRules {
    /// Reads the default calendar, its holidays and the policies.
    pub async fn load(conn: &mut AsyncPgConnection) -> Result<Self, AppError> {
        let calendar = repo::business_calendar(conn).await?;
        let targets = repo::policies(conn)
            .await?
            .iter()
            .map(|policy| (policy.priority, policy.targets()))
            .collect();
        Ok(Self { calendar, targets })
    }

    fn targets_for(&self, priority: TicketPriority) -> Targets {
        self.targets
            .get(&priority)
            .copied()
            .unwrap_or(Targets::from_minutes(120, 960, true, 30))
    }

    /// The SLA of a ticket from its history (oldest event first).
    pub fn compute(
        &self,
        events: &[TicketEvent],
        now: DateTime<Utc>,
    ) -> Result<SlaSnapshot, AppError> {
        let facts: Vec<TicketFact> = events.iter().filter_map(fact_of).collect();
        engine::compute(
            &self.calendar,
            |priority| self.targets_for(priority),
            &facts,
            now,
        )
        .map_err(AppError::internal)
    }
}

/// The fact an entry of the history gives the engine, if any.
fn fact_of(event: &TicketEvent) -> Option<TicketFact> {
    let at = event.occurred_at;
    let text = |key: &str| event.data.get(key).and_then(|value| value.as_str());
    match event.kind {
        HistoryKind::Created => Some(TicketFact::Created {
            at,
            priority: TicketPriority::from_db(text("priority")?)?,
        }),
        HistoryKind::StatusChanged => Some(TicketFact::StatusChanged {
            at,
            to: TicketStatus::from_db(text("to")?)?,
        }),
        HistoryKind::PriorityChanged => Some(TicketFact::PriorityChanged {
            at,
            to: TicketPriority::from_db(text("to")?)?,
        }),
        HistoryKind::StaffReply => Some(TicketFact::StaffReply { at }),
        // Internal notes, client messages, assignments and the scan's marks
        // do not move the SLA clocks.
        HistoryKind::ClientReply
        | HistoryKind::InternalNote
        | HistoryKind::Assigned
        | HistoryKind::SlaWarned
        | HistoryKind::SlaBreached => None,
    }
}

/// Editing SLA policies and the business calendar.
pub struct SlaAdmin {
    db: Db,
}

impl SlaAdmin {
    /// Over the pool.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Every policy, most urgent first.
    pub async fn policies(&self) -> Result<Vec<SlaPolicy>, AppError> {
        let mut conn = self.db.get().await?;
        repo::policies(&mut conn).await
    }

    /// The default calendar.
    pub async fn calendar(&self) -> Result<CalendarRow, AppError> {
        let mut conn = self.db.get().await?;
        Ok(repo::default_calendar(&mut conn).await?.1)
    }

    /// Changes one policy (admins).
    pub async fn update_policy(
        &self,
        principal: &Principal,
        policy: SlaPolicy,
    ) -> Result<SlaPolicy, AppError> {
        principal.require(SLA_MANAGE)?;
        if policy.first_response_minutes < 1 || policy.resolution_minutes < 1 {
            return Err(AppError::invalid_field(
                "input.resolutionMinutes",
                "Targets are at least one minute",
            ));
        }
        if policy.warn_before_minutes < 0 {
            return Err(AppError::invalid_field(
                "input.warnBeforeMinutes",
                "Must not be negative",
            ));
        }
        let mut conn = self.db.get().await?;
        diesel::update(sla_policies::table.find(policy.priority))
            .set((
                sla_policies::first_response_minutes.eq(policy.first_response_minutes),
                sla_policies::resolution_minutes.eq(policy.resolution_minutes),
                sla_policies::business_hours_only.eq(policy.business_hours_only),
                sla_policies::warn_before_minutes.eq(policy.warn_before_minutes),
                sla_policies::updated_at.eq(Utc::now()),
            ))
            .execute(&mut conn)
            .await?;
        Ok(policy)
    }

    /// Replaces the time zone and intervals, after the calendar accepts them.
    pub async fn update_calendar(
        &self,
        principal: &Principal,
        time_zone: &str,
        intervals: Vec<StoredInterval>,
    ) -> Result<CalendarRow, AppError> {
        principal.require(SLA_MANAGE)?;
        let json = serde_json::to_value(&intervals).map_err(AppError::internal)?;
        BusinessCalendar::from_parts(time_zone, &json, Vec::new())
            .map_err(|error| AppError::invalid_field("input.intervals", error.to_string()))?;
        let mut conn = self.db.get().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            diesel::update(
                business_calendars::table.filter(business_calendars::is_default.eq(true)),
            )
            .set((
                business_calendars::time_zone.eq(time_zone),
                business_calendars::intervals.eq(json),
                business_calendars::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
            Ok(repo::default_calendar(conn).await?.1)
        })
        .await
    }

    /// Adds, renames (`Some(name)`) or removes (`None`) a holiday.
    pub async fn set_holiday(
        &self,
        principal: &Principal,
        day: NaiveDate,
        name: Option<&str>,
    ) -> Result<CalendarRow, AppError> {
        principal.require(SLA_MANAGE)?;
        let name = match name.map(str::trim) {
            Some("") => return Err(AppError::invalid_field("name", "Name the holiday")),
            name => name,
        };
        let mut conn = self.db.get().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let calendar: uuid::Uuid = business_calendars::table
                .filter(business_calendars::is_default.eq(true))
                .select(business_calendars::id)
                .first(conn)
                .await?;
            match name {
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
                        .execute(conn)
                        .await?;
                }
                None => {
                    diesel::delete(business_holidays::table.find((calendar, day)))
                        .execute(conn)
                        .await?;
                }
            }
            Ok(repo::default_calendar(conn).await?.1)
        })
        .await
    }
}
