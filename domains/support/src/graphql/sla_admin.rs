//! SLA policies and the business calendar, editable by admins.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use kernel::{RequirePermission, SignedIn, caller};

use super::tickets::TicketPriority;
use crate::sla_store::{CalendarRow, PolicyRow, SlaAdmin};

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

impl From<PolicyRow> for SlaPolicyNode {
    fn from(row: PolicyRow) -> Self {
        Self {
            priority: TicketPriority::from_db(&row.priority).unwrap_or(TicketPriority::Normal),
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
                .map(|(weekday, start, end)| WorkingIntervalNode {
                    weekday,
                    start,
                    end,
                })
                .collect(),
            holidays: row
                .holidays
                .into_iter()
                .map(|(day, name)| HolidayNode { day, name })
                .collect(),
        }
    }
}

/// Input of `updateSlaPolicy`.
#[derive(InputObject)]
pub struct UpdateSlaPolicyInput {
    /// The priority whose targets change.
    pub priority: TicketPriority,
    /// Minutes to the first public staff reply (1 or more).
    pub first_response_minutes: i32,
    /// Minutes to resolution (1 or more).
    pub resolution_minutes: i32,
    /// Count business hours only.
    pub business_hours_only: bool,
    /// Warning lead time in minutes (0 or more).
    pub warn_before_minutes: i32,
}

/// Input of `updateBusinessCalendar`.
#[derive(InputObject)]
pub struct UpdateBusinessCalendarInput {
    /// IANA time zone.
    pub time_zone: String,
    /// Working intervals; they must not overlap.
    pub intervals: Vec<WorkingIntervalNode>,
}

fn admin<'a>(ctx: &Context<'a>) -> &'a Arc<SlaAdmin> {
    ctx.data_unchecked::<Arc<SlaAdmin>>()
}

/// SLA queries.
#[derive(Default)]
pub struct SlaQuery;

#[Object]
impl SlaQuery {
    /// Targets per priority.
    #[graphql(guard = "SignedIn")]
    async fn sla_policies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SlaPolicyNode>> {
        caller(ctx)?;
        Ok(admin(ctx)
            .policies()
            .await?
            .into_iter()
            .map(SlaPolicyNode::from)
            .collect())
    }

    /// The business calendar SLA clocks run on.
    #[graphql(guard = "SignedIn")]
    async fn business_calendar(&self, ctx: &Context<'_>) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx).calendar().await?.into())
    }
}

/// SLA mutations (admins).
#[derive(Default)]
pub struct SlaMutation;

#[Object]
impl SlaMutation {
    /// Changes the targets of one priority; open tickets are re-timed on their next change.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn update_sla_policy(
        &self,
        ctx: &Context<'_>,
        input: UpdateSlaPolicyInput,
    ) -> async_graphql::Result<SlaPolicyNode> {
        let row = PolicyRow {
            priority: input.priority.as_db().to_string(),
            first_response_minutes: input.first_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours_only: input.business_hours_only,
            warn_before_minutes: input.warn_before_minutes,
        };
        Ok(admin(ctx).update_policy(caller(ctx)?, row).await?.into())
    }

    /// Replaces the time zone and working intervals of the business calendar.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn update_business_calendar(
        &self,
        ctx: &Context<'_>,
        input: UpdateBusinessCalendarInput,
    ) -> async_graphql::Result<CalendarNode> {
        let intervals = input
            .intervals
            .into_iter()
            .map(|i| (i.weekday, i.start, i.end))
            .collect();
        Ok(admin(ctx)
            .update_calendar(caller(ctx)?, &input.time_zone, intervals)
            .await?
            .into())
    }

    /// Adds (or renames) a holiday.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn add_business_holiday(
        &self,
        ctx: &Context<'_>,
        day: NaiveDate,
        name: String,
    ) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx)
            .set_holiday(caller(ctx)?, day, Some(&name))
            .await?
            .into())
    }

    /// Removes a holiday.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn remove_business_holiday(
        &self,
        ctx: &Context<'_>,
        day: NaiveDate,
    ) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx)
            .set_holiday(caller(ctx)?, day, None)
            .await?
            .into())
    }
}
