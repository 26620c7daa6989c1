//! GraphQL types of SLAs.

use async_graphql::{InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::model::TicketPriority;
use crate::sla::model::{CalendarRow, Holiday, SlaPolicy, StoredInterval};
use crate::sla::{SlaSnapshot, SlaState};

/// Targets of one priority.
#[derive(SimpleObject)]
#[graphql(name = "SlaPolicy")]
pub struct SlaPolicyNode {
    /// The priority.
    pub priority: TicketPriority,
    /// Minutes to the first public staff reply.
    pub first_response_minutes: i32,
    /// Minutes to resolution (the clock pauses while waiting on the client).
    pub resolution_minutes: i32,
    /// Whether the minutes count only business hours (false: wall clock).
    pub business_hours_only: bool,
    /// How long before a target the ticket becomes AT_RISK and a warning is sent.
    pub warn_before_minutes: i32,
}

impl From<SlaPolicy> for SlaPolicyNode {
    fn from(row: SlaPolicy) -> Self {
        Self {
            priority: row.priority,
            first_response_minutes: row.first_response_minutes,
            resolution_minutes: row.resolution_minutes,
            business_hours_only: row.business_hours_only,
            warn_before_minutes: row.warn_before_minutes,
        }
    }
}

/// One working interval of a weekday, local time.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "WorkingIntervalInput", name = "WorkingInterval")]
pub struct WorkingIntervalNode {
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: i32,
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (`24:00` for midnight).
    pub end: String,
}

impl From<WorkingIntervalNode> for StoredInterval {
    fn from(node: WorkingIntervalNode) -> Self {
        Self {
            weekday: node.weekday,
            start: node.start,
            end: node.end,
        }
    }
}

/// A day off.
#[derive(SimpleObject)]
#[graphql(name = "BusinessHoliday")]
pub struct HolidayNode {
    /// The date.
    pub day: NaiveDate,
    /// Its name, e.g. "Diwali".
    pub name: String,
}

/// The business calendar SLA clocks run on.
#[derive(SimpleObject)]
#[graphql(name = "BusinessCalendar")]
pub struct CalendarNode {
    /// Name.
    pub name: String,
    /// IANA time zone, e.g. `Asia/Kolkata`.
    pub time_zone: String,
    /// Working intervals per weekday (several per day for lunch breaks).
    pub intervals: Vec<WorkingIntervalNode>,
    /// Days off.
    pub holidays: Vec<HolidayNode>,
}

impl From<CalendarRow> for CalendarNode {
    fn from(row: CalendarRow) -> Self {
        Self {
            name: row.name,
            time_zone: row.time_zone,
            intervals: row
                .intervals
                .into_iter()
                .map(|interval| WorkingIntervalNode {
                    weekday: interval.weekday,
                    start: interval.start,
                    end: interval.end,
                })
                .collect(),
            holidays: row
                .holidays
                .into_iter()
                .map(|Holiday { day, name }| HolidayNode { day, name })
                .collect(),
        }
    }
}

/// The SLA of a ticket, computed from its history on business hours.
pub struct SlaNode(pub SlaSnapshot);

#[Object(name = "TicketSla")]
impl SlaNode {
    /// When the first public staff reply is due.
    async fn first_response_due_at(&self) -> DateTime<Utc> {
        self.0.first_response_due_at
    }

    /// When staff first replied publicly.
    async fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_responded_at
    }

    /// When resolution is due; null while the clock is paused (waiting on the client).
    async fn resolution_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolution_due_at
    }

    /// Business seconds left on the resolution clock.
    async fn resolution_remaining_seconds(&self) -> i64 {
        self.0.resolution_remaining.num_seconds()
    }

    /// Seconds the resolution clock has been paused.
    async fn paused_seconds(&self) -> i64 {
        self.0.paused_seconds
    }

    /// ON_TRACK, AT_RISK, BREACHED or MET.
    async fn state(&self) -> SlaState {
        self.0.state
    }
}
