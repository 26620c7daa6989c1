//! SLA mutations (admins).

use async_graphql::{Context, InputObject, Object};
use chrono::NaiveDate;
use kernel::{RequirePermission, caller};

use super::query::admin;
use super::types::{CalendarNode, SlaPolicyNode, WorkingIntervalNode};
use crate::model::TicketPriority;
use crate::sla::model::SlaPolicy;

/// New targets for one ticket priority (`updateSlaPolicy`); every field is set.
#[derive(InputObject)]
pub struct UpdateSlaPolicyInput {
    /// The priority whose targets change.
    pub priority: TicketPriority,
    /// Minutes to the first public staff reply (1 or more).
    pub first_response_minutes: i32,
    /// Minutes to resolution (1 or more).
    pub resolution_minutes: i32,
    /// Whether the minutes count only the business calendar's working hours
    /// (false: the wall clock, nights and holidays included).
    pub business_hours_only: bool,
    /// Minutes before a target at which the ticket turns `AT_RISK` and a
    /// warning is emailed (0 or more; 0 warns at the target).
    pub warn_before_minutes: i32,
}

/// The business calendar's new time zone and working hours
/// (`updateBusinessCalendar`); holidays are kept.
#[derive(InputObject)]
pub struct UpdateBusinessCalendarInput {
    /// IANA time zone name, e.g. `Asia/Kolkata` (unknown names are `BAD_USER_INPUT`).
    pub time_zone: String,
    /// Every working interval of the week, replacing the old ones; they must
    /// not overlap.
    pub intervals: Vec<WorkingIntervalNode>,
}

/// SLA mutations (admins), merged into `SupportMutation`.
#[derive(Default)]
pub struct SlaMutation;

#[Object]
impl SlaMutation {
    /// Changes the targets of one priority (admins and super-admins:
    /// `support:sla.manage`); open tickets are re-timed on their next change.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn update_sla_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The priority and its new targets.")] input: UpdateSlaPolicyInput,
    ) -> async_graphql::Result<SlaPolicyNode> {
        let policy = SlaPolicy {
            priority: input.priority,
            first_response_minutes: input.first_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours_only: input.business_hours_only,
            warn_before_minutes: input.warn_before_minutes,
        };
        Ok(admin(ctx).update_policy(caller(ctx)?, policy).await?.into())
    }

    /// Replaces the time zone and working intervals of the business calendar
    /// (admins and super-admins); SLA clocks use them from now on.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn update_business_calendar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The time zone and every working interval of the week.")]
        input: UpdateBusinessCalendarInput,
    ) -> async_graphql::Result<CalendarNode> {
        let intervals = input.intervals.into_iter().map(Into::into).collect();
        Ok(admin(ctx)
            .update_calendar(caller(ctx)?, &input.time_zone, intervals)
            .await?
            .into())
    }

    /// Adds a holiday to the business calendar, or renames the one on that
    /// day (admins and super-admins); answers the calendar.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn add_business_holiday(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The calendar day off, in the calendar's time zone.")] day: NaiveDate,
        #[graphql(desc = "What the day is, e.g. \"Diwali\" (required).")] name: String,
    ) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx)
            .set_holiday(caller(ctx)?, day, Some(&name))
            .await?
            .into())
    }

    /// Makes a holiday a working day again (admins and super-admins);
    /// answers the calendar. A day without a holiday is left as it is.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn remove_business_holiday(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The calendar day whose holiday to remove.")] day: NaiveDate,
    ) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx)
            .set_holiday(caller(ctx)?, day, None)
            .await?
            .into())
    }
}
