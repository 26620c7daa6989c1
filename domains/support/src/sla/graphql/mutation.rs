//! SLA mutations (admins).

use async_graphql::{Context, InputObject, Object};
use chrono::NaiveDate;
use kernel::{RequirePermission, caller};

use super::query::admin;
use super::types::{CalendarNode, SlaPolicyNode, WorkingIntervalNode};
use crate::model::TicketPriority;
use crate::sla::model::SlaPolicy;

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

/// SLA mutations (admins), merged into `SupportMutation`.
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
        let policy = SlaPolicy {
            priority: input.priority,
            first_response_minutes: input.first_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours_only: input.business_hours_only,
            warn_before_minutes: input.warn_before_minutes,
        };
        Ok(admin(ctx).update_policy(caller(ctx)?, policy).await?.into())
    }

    /// Replaces the time zone and working intervals of the business calendar.
    #[graphql(guard = "RequirePermission(\"support:sla.manage\")")]
    async fn update_business_calendar(
        &self,
        ctx: &Context<'_>,
        input: UpdateBusinessCalendarInput,
    ) -> async_graphql::Result<CalendarNode> {
        let intervals = input.intervals.into_iter().map(Into::into).collect();
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
