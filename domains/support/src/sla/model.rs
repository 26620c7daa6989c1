//! Rows of the SLA tables.

use chrono::NaiveDate;
use diesel::prelude::*;
use kernel::schema::{business_holidays, sla_policies};
use serde::{Deserialize, Serialize};

use super::engine::Targets;
use crate::model::TicketPriority;

/// A row of `sla_policies`: the targets of one priority.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sla_policies, check_for_backend(diesel::pg::Pg))]
pub struct SlaPolicy {
    /// The priority (the key).
    pub priority: TicketPriority,
    /// Minutes to first response.
    pub first_response_minutes: i32,
    /// Minutes to resolution.
    pub resolution_minutes: i32,
    /// Business hours only.
    pub business_hours_only: bool,
    /// Warning lead time.
    pub warn_before_minutes: i32,
}

impl SlaPolicy {
    /// The engine's targets.
    pub fn targets(&self) -> Targets {
        Targets::from_minutes(
            self.first_response_minutes,
            self.resolution_minutes,
            self.business_hours_only,
            self.warn_before_minutes,
        )
    }
}

/// One working interval as `business_calendars.intervals` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredInterval {
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: i32,
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (`24:00` for midnight).
    pub end: String,
}

/// A row of `business_holidays` without its calendar.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = business_holidays, check_for_backend(diesel::pg::Pg))]
pub struct Holiday {
    /// The date.
    pub day: NaiveDate,
    /// Its name.
    pub name: String,
}

/// The default business calendar as stored.
#[derive(Debug, Clone)]
pub struct CalendarRow {
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Working intervals.
    pub intervals: Vec<StoredInterval>,
    /// Days off, by date.
    pub holidays: Vec<Holiday>,
}
