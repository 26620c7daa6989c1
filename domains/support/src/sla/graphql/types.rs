//! GraphQL types of SLAs.

use async_graphql::{InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::model::TicketPriority;
use crate::sla::model::{CalendarRow, Holiday, SlaPolicy, StoredInterval};
use crate::sla::{SlaSnapshot, SlaState};

/// The service-level targets of one ticket priority; every signed-in user may
/// read them, admins change them (`updateSlaPolicy`).
#[derive(SimpleObject)]
#[graphql(name = "SlaPolicy")]
pub struct SlaPolicyNode {
    /// The ticket priority these targets apply to (one policy per priority).
    pub priority: TicketPriority,
    /// Minutes to the first public staff reply.
    pub first_response_minutes: i32,
    /// Minutes to resolution (the clock pauses while waiting on the client).
    pub resolution_minutes: i32,
    /// Whether the minutes count only business hours (false: wall clock).
    pub business_hours_only: bool,
    /// How long before a target, in minutes, the ticket becomes `AT_RISK`
    /// and a warning is emailed (category `sla_warning`).
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

/// One working interval of a weekday, in the calendar's local time.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "WorkingIntervalInput", name = "WorkingInterval")]
pub struct WorkingIntervalNode {
    /// Day of the week, ISO numbering: 1 = Monday ... 7 = Sunday.
    pub weekday: i32,
    /// Start of the interval, `HH:MM` on a 24-hour clock, local time.
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

/// A day off on the business calendar: SLA clocks on business hours do not
/// run on it.
#[derive(SimpleObject)]
#[graphql(name = "BusinessHoliday")]
pub struct HolidayNode {
    /// The calendar day off, in the calendar's time zone (the whole day).
    pub day: NaiveDate,
    /// Its name, e.g. "Diwali".
    pub name: String,
}

/// The business calendar SLA clocks run on: time zone, working hours and
/// holidays. There is one, shared by every ticket.
#[derive(SimpleObject)]
#[graphql(name = "BusinessCalendar")]
pub struct CalendarNode {
    /// Label of the calendar for people, e.g. "India office".
    pub name: String,
    /// IANA time zone, e.g. `Asia/Kolkata`.
    pub time_zone: String,
    /// Working intervals per weekday (several per day for lunch breaks).
    pub intervals: Vec<WorkingIntervalNode>,
    /// Days off, on which business-hours clocks stand still, by date.
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

/// An [`SlaSnapshot`] as the GraphQL `TicketSla`.
pub struct SlaNode(pub SlaSnapshot);

/// The SLA of a ticket at this instant, computed from its history on the
/// business calendar and the policy of its priority.
#[Object(name = "TicketSla")]
impl SlaNode {
    /// When the first public staff reply is (or was) due, in UTC.
    async fn first_response_due_at(&self) -> DateTime<Utc> {
        self.0.first_response_due_at
    }

    /// When staff first replied publicly, in UTC; null until they have.
    async fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_responded_at
    }

    /// When resolution is (or was) due, in UTC; null while the clock is
    /// paused (waiting on the client).
    async fn resolution_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolution_due_at
    }

    /// Seconds left on the resolution clock (business seconds when the policy
    /// counts business hours only); 0 once the target has passed.
    async fn resolution_remaining_seconds(&self) -> i64 {
        self.0.resolution_remaining.num_seconds()
    }

    /// Seconds the resolution clock has been paused in total, while the
    /// ticket waited on the client.
    async fn paused_seconds(&self) -> i64 {
        self.0.paused_seconds
    }

    /// Whether the ticket is on track, at risk, breached or met its targets.
    async fn state(&self) -> SlaState {
        self.0.state
    }
}
