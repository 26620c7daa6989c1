//! SLA clocks: a ticket's SLA state computed from its history.
//!
//! Everything here is pure: the caller loads the calendar, the policies and the
//! ticket's events, and [`compute`] derives the deadlines and the state. Because
//! nothing is stored incrementally, a fix to a calendar or a policy gives
//! correct answers on the next computation.
//!
//! Time counts in business time on a [`BusinessCalendar`] (the kernel's: a time
//! zone, weekly working intervals, holidays) when a priority's targets say
//! `business_hours_only`, and in wall-clock time otherwise.

use chrono::{DateTime, Duration, Utc};
use kernel::calendar::{BusinessCalendar, CalendarError};
use serde::{Deserialize, Serialize};

use crate::model::{TicketPriority, TicketStatus};

/// Why an SLA cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    /// The business calendar cannot answer (no working time, out of range).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The ticket's history cannot be interpreted.
    #[error("invalid ticket history: {0}")]
    InvalidHistory(&'static str),
}

/// Whether the resolution clock runs in `status`.
fn resolution_runs(status: TicketStatus) -> bool {
    !status.pauses_resolution() && !status.is_done()
}

/// Targets of one priority (from sla_policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    /// Time allowed from creation to the first public staff reply.
    pub first_response: Duration,
    /// Time allowed from creation to resolution, not counting pauses.
    pub resolution: Duration,
    /// Whether the targets count business time (otherwise wall-clock time).
    pub business_hours_only: bool,
    /// How long before a deadline the ticket is at risk (in the same kind of time).
    pub warn_before: Duration,
}

impl Targets {
    /// From the `sla_policies` columns.
    pub fn from_minutes(
        first_response_minutes: i32,
        resolution_minutes: i32,
        business_hours_only: bool,
        warn_before_minutes: i32,
    ) -> Self {
        Self {
            first_response: Duration::minutes(first_response_minutes.into()),
            resolution: Duration::minutes(resolution_minutes.into()),
            business_hours_only,
            warn_before: Duration::minutes(warn_before_minutes.into()),
        }
    }

    /// The default policy (DOMAIN.md): urgent 15 min / 4 h wall clock; high
    /// 1 h / 8 h, normal 2 h / 16 h, low 4 h / 40 h business time.
    pub fn default_for(priority: TicketPriority) -> Self {
        match priority {
            TicketPriority::Urgent => Self::from_minutes(15, 240, false, 5),
            TicketPriority::High => Self::from_minutes(60, 480, true, 15),
            TicketPriority::Normal => Self::from_minutes(120, 960, true, 30),
            TicketPriority::Low => Self::from_minutes(240, 2400, true, 60),
        }
    }
}

/// One fact of a ticket's history, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketFact {
    /// The ticket was created (status open) with this priority.
    Created {
        /// When.
        at: DateTime<Utc>,
        /// The initial priority.
        priority: TicketPriority,
    },
    /// The status changed.
    StatusChanged {
        /// When.
        at: DateTime<Utc>,
        /// The new status.
        to: TicketStatus,
    },
    /// The priority changed.
    PriorityChanged {
        /// When.
        at: DateTime<Utc>,
        /// The new priority.
        to: TicketPriority,
    },
    /// A public (not internal) reply by staff; internal notes are not responses.
    StaffReply {
        /// When.
        at: DateTime<Utc>,
    },
}

impl TicketFact {
    /// When the fact happened.
    pub fn at(&self) -> DateTime<Utc> {
        match *self {
            Self::Created { at, .. }
            | Self::StatusChanged { at, .. }
            | Self::PriorityChanged { at, .. }
            | Self::StaffReply { at } => at,
        }
    }
}

/// SLA state of a ticket.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[graphql(name = "SlaStateValue")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaState {
    /// Every target is further away than its warning lead time.
    OnTrack,
    /// Within the warning lead time of a target; a warning was or will be emailed.
    AtRisk,
    /// A target was missed.
    Breached,
    /// Resolved within its targets.
    Met,
}

/// The SLA facts of one ticket at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaSnapshot {
    /// When the first public staff reply is (or was) due.
    pub first_response_due_at: DateTime<Utc>,
    /// When the first public staff reply came.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// None while the resolution clock is paused (waiting on the client) — then `resolution_remaining` says what is left.
    ///
    /// While paused after the target was already reached, this is the past
    /// instant when it was reached. For a done ticket within target, the
    /// deadline projected from the resolution instant.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Resolution time left (business or wall time, as the targets say); zero once used up.
    pub resolution_remaining: Duration,
    /// When the ticket was resolved (None unless it is resolved or closed now).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Wall-clock seconds the resolution clock was paused.
    pub paused_seconds: i64,
    /// Whether the first response came (or is still missing) after its deadline.
    pub first_response_breached: bool,
    /// Whether the resolution clock ran past its deadline.
    pub resolution_breached: bool,
    /// The overall state.
    pub state: SlaState,
    /// The ticket's current priority.
    pub priority: TicketPriority,
    /// The ticket's current status.
    pub status: TicketStatus,
}

struct Segment {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: TicketStatus,
}

/// Measures elapsed time in business or wall-clock time.
fn measure(
    calendar: &BusinessCalendar,
    business: bool,
    a: DateTime<Utc>,
    b: DateTime<Utc>,
) -> Duration {
    if business {
        calendar.business_time_between(a, b)
    } else {
        (b - a).max(Duration::zero())
    }
}

/// Advances by business or wall-clock time.
fn advance(
    calendar: &BusinessCalendar,
    business: bool,
    start: DateTime<Utc>,
    amount: Duration,
) -> Result<DateTime<Utc>, SlaError> {
    if business {
        Ok(calendar.checked_add_business_time(start, amount)?)
    } else {
        start
            .checked_add_signed(amount.max(Duration::zero()))
            .ok_or(SlaError::Calendar(CalendarError::OutOfRange))
    }
}

/// Computes a ticket's SLA state at `now` from its history.
///
/// `facts` must contain exactly one [`TicketFact::Created`], at or before every
/// other fact; facts are ordered by time (stable for equal times). `now` is
/// raised to the last fact if it lies before it (clock skew).
///
/// A priority change re-targets: the targets of the current priority apply to
/// the whole history, elapsed time being measured in that priority's kind of
/// time. A clock that has stopped keeps the targets it stopped under: the first
/// response those of the priority at the first reply (or at resolution), the
/// resolution those of the priority at resolution.
pub fn compute(
    calendar: &BusinessCalendar,
    targets: impl Fn(TicketPriority) -> Targets,
    facts: &[TicketFact],
    now: DateTime<Utc>,
) -> Result<SlaSnapshot, SlaError> {
    let mut facts: Vec<&TicketFact> = facts.iter().collect();
    facts.sort_by_key(|fact| (fact.at(), !matches!(fact, TicketFact::Created { .. })));
    let Some((
        &&TicketFact::Created {
            at: created_at,
            priority: initial,
        },
        rest,
    )) = facts.split_first()
    else {
        return Err(SlaError::InvalidHistory(
            "the history must start with the ticket's creation",
        ));
    };
    let now = facts.last().map_or(now, |fact| now.max(fact.at()));

    let mut status = TicketStatus::Open;
    let mut priority = initial;
    let mut cursor = created_at;
    let mut segments = Vec::new();
    let mut first_reply: Option<(DateTime<Utc>, TicketPriority)> = None;
    let mut resolved: Option<(DateTime<Utc>, TicketPriority)> = None;
    for fact in rest {
        match **fact {
            TicketFact::Created { .. } => {
                return Err(SlaError::InvalidHistory("the ticket was created twice"));
            }
            TicketFact::StatusChanged { at, to } => {
                segments.push(Segment {
                    start: cursor,
                    end: at,
                    status,
                });
                cursor = at;
                if !to.is_done() {
                    resolved = None;
                } else if !status.is_done() {
                    resolved = Some((at, priority));
                }
                status = to;
            }
            TicketFact::PriorityChanged { to, .. } => priority = to,
            TicketFact::StaffReply { at } => {
                if first_reply.is_none() {
                    first_reply = Some((at, priority));
                }
            }
        }
    }
    segments.push(Segment {
        start: cursor,
        end: now,
        status,
    });

    // First response: never pauses; stops at the first reply (or at resolution).
    let first_targets = targets(
        first_reply
            .or(resolved)
            .map_or(priority, |(_, priority)| priority),
    );
    let first_business = first_targets.business_hours_only;
    let first_response_due_at = advance(
        calendar,
        first_business,
        created_at,
        first_targets.first_response,
    )?;
    let first_stop = first_reply.or(resolved).map_or(now, |(at, _)| at);
    let first_response_breached = first_stop > first_response_due_at;

    // Resolution: counts only while running; the due instant is where the
    // counted time reaches the target, projected from the current run.
    let resolution_targets = targets(resolved.map_or(priority, |(_, priority)| priority));
    let business = resolution_targets.business_hours_only;
    let target = resolution_targets.resolution;
    let running_now = resolution_runs(status);
    let mut counted = Duration::zero();
    let mut reached_at = None;
    let mut last_run_end = None;
    let last_index = segments.len() - 1;
    let mut paused_seconds = 0_i64;
    for (index, segment) in segments.iter().enumerate() {
        if segment.status.pauses_resolution() {
            paused_seconds += (segment.end - segment.start).num_seconds();
        }
        if !resolution_runs(segment.status) {
            continue;
        }
        let open = running_now && index == last_index;
        if !open && segment.end <= segment.start {
            continue;
        }
        last_run_end = Some(segment.end);
        let length = measure(calendar, business, segment.start, segment.end);
        if reached_at.is_none() && (open || counted + length >= target) {
            reached_at = Some(advance(
                calendar,
                business,
                segment.start,
                target - counted,
            )?);
        }
        counted += length;
    }
    let resolution_breached =
        matches!((reached_at, last_run_end), (Some(due), Some(end)) if end > due);
    let resolution_remaining = (target - counted).max(Duration::zero());
    let resolved_at = resolved.map(|(at, _)| at);
    let resolution_due_at = match (reached_at, resolved_at) {
        (Some(due), _) => Some(due),
        (None, Some(at)) => Some(advance(calendar, business, at, resolution_remaining)?),
        (None, None) => None,
    };

    let state = if first_response_breached || resolution_breached {
        SlaState::Breached
    } else if status.is_done() {
        SlaState::Met
    } else {
        let first_at_risk = first_reply.is_none()
            && measure(calendar, first_business, now, first_response_due_at)
                <= first_targets.warn_before;
        let resolution_at_risk = running_now
            && resolution_due_at.is_some_and(|due| {
                measure(calendar, business, now, due) <= resolution_targets.warn_before
            });
        if first_at_risk || resolution_at_risk {
            SlaState::AtRisk
        } else {
            SlaState::OnTrack
        }
    };

    Ok(SlaSnapshot {
        first_response_due_at,
        first_responded_at: first_reply.map(|(at, _)| at),
        resolution_due_at,
        resolution_remaining,
        resolved_at,
        paused_seconds,
        first_response_breached,
        resolution_breached,
        state,
        priority,
        status,
    })
}

#[cfg(test)]
mod tests;
