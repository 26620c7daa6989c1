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
