//! Reads of the SLA tables: the policies and the default business calendar.
//! Every signed-in user may read them.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::AppError;
use kernel::calendar::BusinessCalendar;
use kernel::schema::{business_calendars, business_holidays, sla_policies};
use uuid::Uuid;

use super::model::{CalendarRow, Holiday, SlaPolicy, StoredInterval};
use crate::model::TicketPriority;

/// Every policy, most urgent first.
pub async fn policies(conn: &mut AsyncPgConnection) -> Result<Vec<SlaPolicy>, AppError> {
    let mut rows: Vec<SlaPolicy> = sla_policies::table
        .select(SlaPolicy::as_select())
        .load(conn)
        .await?;
    let rank = |priority: TicketPriority| {
        TicketPriority::ALL
            .iter()
            .rev()
            .position(|p| *p == priority)
    };
    rows.sort_by_key(|row| rank(row.priority));
    Ok(rows)
}

/// The id of the default calendar and the calendar as stored.
pub async fn default_calendar(
    conn: &mut AsyncPgConnection,
) -> Result<(Uuid, CalendarRow), AppError> {
    let (id, name, time_zone, intervals): (Uuid, String, String, serde_json::Value) =
        business_calendars::table
            .filter(business_calendars::is_default.eq(true))
            .select((
                business_calendars::id,
                business_calendars::name,
                business_calendars::time_zone,
                business_calendars::intervals,
            ))
            .first(conn)
            .await?;
    let holidays: Vec<Holiday> = business_holidays::table
        .filter(business_holidays::calendar_id.eq(id))
        .order(business_holidays::day.asc())
        .select(Holiday::as_select())
        .load(conn)
        .await?;
    let intervals: Vec<StoredInterval> =
        serde_json::from_value(intervals).map_err(AppError::internal)?;
    Ok((
        id,
        CalendarRow {
            name,
            time_zone,
            intervals,
            holidays,
        },
    ))
}

/// The default calendar as the kernel's [`BusinessCalendar`], holidays included.
pub async fn business_calendar(conn: &mut AsyncPgConnection) -> Result<BusinessCalendar, AppError> {
    let (_, row) = default_calendar(conn).await?;
    let intervals = serde_json::to_value(&row.intervals).map_err(AppError::internal)?;
    BusinessCalendar::from_parts(
        &row.time_zone,
        &intervals,
        row.holidays.iter().map(|holiday| holiday.day),
    )
    .map_err(AppError::internal)
}
