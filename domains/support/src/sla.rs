//! SLA clocks: business calendars and ticket SLA state computed from history.
//!
//! Everything here is pure: the caller loads the calendar, the policies and the
//! ticket's events, and [`compute`] derives the deadlines and the state. Because
//! nothing is stored incrementally, a fix to a calendar or a policy gives
//! correct answers on the next computation.
//!
//! Time counts in business time on a [`BusinessCalendar`] (a time zone, weekly
//! working intervals, holidays) when a priority's targets say
//! `business_hours_only`, and in wall-clock time otherwise.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

const DAY_SECONDS: u32 = 86_400;

/// Consecutive days without any working time after which a search gives up.
const MAX_IDLE_DAYS: u32 = 400;

/// Longest daylight-saving gap searched for, in minutes.
const MAX_GAP_MINUTES: u32 = 24 * 60;

/// Weekdays in the database's numbering order (1 = Monday .. 7 = Sunday).
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Why a calendar, a value from the database or a history is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    /// The time zone is not an IANA name known to chrono-tz.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// The intervals JSON does not have the expected shape.
    #[error("invalid working intervals: {0}")]
    InvalidIntervals(String),
    /// A working interval does not start before it ends.
    #[error("working interval on {weekday} must start before it ends ({start}-{end})")]
    EmptyInterval {
        /// The interval's weekday.
        weekday: Weekday,
        /// The interval's start.
        start: NaiveTime,
        /// The interval's end.
        end: NaiveTime,
    },
    /// Two working intervals of the same weekday overlap.
    #[error("working intervals overlap on {0}")]
    OverlappingIntervals(Weekday),
    /// The calendar has no working time, so a business deadline never comes.
    #[error("the business calendar has no working time")]
    NoWorkingTime,
    /// A priority that is not one of the database's values.
    #[error("unknown priority {0:?}")]
    UnknownPriority(String),
    /// A status that is not one of the database's values.
    #[error("unknown status {0:?}")]
    UnknownStatus(String),
    /// The ticket's history cannot be interpreted.
    #[error("invalid ticket history: {0}")]
    InvalidHistory(&'static str),
    /// A computed instant is outside the representable range.
    #[error("date out of range")]
    OutOfRange,
}

/// Ticket priorities ("low", "normal", "high", "urgent" in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// "low".
    Low,
    /// "normal".
    Normal,
    /// "high".
    High,
    /// "urgent".
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// Parses the database value.
    pub fn from_db(value: &str) -> Result<Self, SlaError> {
        match value {
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            "high" => Ok(Self::High),
            "urgent" => Ok(Self::Urgent),
            other => Err(SlaError::UnknownPriority(other.to_string())),
        }
    }

    /// The database value.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
}

/// Ticket statuses ("open", "in_progress", "waiting_on_client", "resolved", "closed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// "open".
    Open,
    /// "in_progress".
    InProgress,
    /// "waiting_on_client".
    WaitingOnClient,
    /// "resolved".
    Resolved,
    /// "closed".
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::InProgress,
        Status::WaitingOnClient,
        Status::Resolved,
        Status::Closed,
    ];

    /// Parses the database value.
    pub fn from_db(value: &str) -> Result<Self, SlaError> {
        match value {
            "open" => Ok(Self::Open),
            "in_progress" => Ok(Self::InProgress),
            "waiting_on_client" => Ok(Self::WaitingOnClient),
            "resolved" => Ok(Self::Resolved),
            "closed" => Ok(Self::Closed),
            other => Err(SlaError::UnknownStatus(other.to_string())),
        }
    }

    /// The database value.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::WaitingOnClient => "waiting_on_client",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Whether this status stops the resolution clock (not the first-response clock).
    pub fn pauses_resolution(self) -> bool {
        matches!(self, Self::WaitingOnClient)
    }

    /// Whether the ticket is resolved or closed.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }

    fn resolution_runs(self) -> bool {
        !self.pauses_resolution() && !self.is_done()
    }
}

/// One weekly working interval in the calendar's local time.
///
/// An `end` of 00:00 means midnight at the end of the day (`"24:00"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkInterval {
    /// The day of the week.
    pub weekday: Weekday,
    /// Local start time (inclusive).
    pub start: NaiveTime,
    /// Local end time (exclusive); 00:00 means the end of the day.
    pub end: NaiveTime,
}

impl WorkInterval {
    fn start_seconds(&self) -> u32 {
        self.start.num_seconds_from_midnight()
    }

    fn end_seconds(&self) -> u32 {
        match self.end.num_seconds_from_midnight() {
            0 => DAY_SECONDS,
            seconds => seconds,
        }
    }
}

/// An interval of one weekday, in seconds from local midnight (end up to 86 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    weekday: u8,
    start: String,
    end: String,
}

/// A business calendar: a time zone, weekly working intervals (several per day
/// for lunch breaks) and holidays, each of which removes the whole local day.
///
/// Instants are mapped to local time in the calendar's zone. A local boundary
/// that falls in a daylight-saving gap starts at the end of the gap; one that
/// occurs twice (clocks set back) is taken at its first occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    tz: Tz,
    intervals: Vec<WorkInterval>,
    days: [Vec<Span>; 7],
    holidays: BTreeSet<NaiveDate>,
    weekly_seconds: i64,
}

impl BusinessCalendar {
    /// From the database columns: IANA time zone name, intervals JSON
    /// `[{"weekday": 1, "start": "09:30", "end": "13:00"}, ...]` (weekday 1 = Monday .. 7 = Sunday), holidays.
    ///
    /// Times are `HH:MM` or `HH:MM:SS`; an end of `"24:00"` means midnight at the end of the day.
    pub fn from_parts(
        time_zone: &str,
        intervals: &serde_json::Value,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, SlaError> {
        let tz: Tz = time_zone
            .parse()
            .map_err(|_| SlaError::UnknownTimeZone(time_zone.to_string()))?;
        let raw: Vec<RawInterval> = serde_json::from_value(intervals.clone())
            .map_err(|error| SlaError::InvalidIntervals(error.to_string()))?;
        let intervals = raw
            .iter()
            .map(|raw| {
                let weekday = usize::from(raw.weekday)
                    .checked_sub(1)
                    .and_then(|index| WEEKDAYS.get(index))
                    .copied()
                    .ok_or_else(|| {
                        SlaError::InvalidIntervals(format!(
                            "weekday {} is not between 1 and 7",
                            raw.weekday
                        ))
                    })?;
                Ok(WorkInterval {
                    weekday,
                    start: parse_clock(&raw.start, false)?,
                    end: parse_clock(&raw.end, true)?,
                })
            })
            .collect::<Result<Vec<_>, SlaError>>()?;
        Self::new(tz, intervals, holidays)
    }

    /// Builds a calendar; every interval must start before it ends and
    /// intervals of the same weekday must not overlap (touching is fine).
    pub fn new(
        tz: Tz,
        intervals: Vec<WorkInterval>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, SlaError> {
        let mut intervals = intervals;
        for interval in &intervals {
            if interval.start_seconds() >= interval.end_seconds() {
                return Err(SlaError::EmptyInterval {
                    weekday: interval.weekday,
                    start: interval.start,
                    end: interval.end,
                });
            }
        }
        intervals.sort_by_key(|i| (i.weekday.num_days_from_monday(), i.start_seconds()));
        if let Some(pair) = intervals
            .windows(2)
            .find(|w| w[0].weekday == w[1].weekday && w[0].end_seconds() > w[1].start_seconds())
        {
            return Err(SlaError::OverlappingIntervals(pair[0].weekday));
        }
        let mut days: [Vec<Span>; 7] = Default::default();
        let mut weekly_seconds = 0_i64;
        for interval in &intervals {
            let span = Span {
                start: interval.start_seconds(),
                end: interval.end_seconds(),
            };
            weekly_seconds += i64::from(span.end - span.start);
            days[interval.weekday.num_days_from_monday() as usize].push(span);
        }
        Ok(Self {
            tz,
            intervals,
            days,
            holidays: holidays.into_iter().collect(),
            weekly_seconds,
        })
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The weekly working intervals, by weekday and start.
    pub fn intervals(&self) -> &[WorkInterval] {
        &self.intervals
    }

    /// The holidays (local dates without working time).
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// Working time in a week without holidays or clock changes.
    pub fn weekly_working_time(&self) -> Duration {
        Duration::seconds(self.weekly_seconds)
    }

    /// Whether `at` falls inside working hours.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        let date = self.local_date(at);
        [date.pred_opt(), Some(date)]
            .into_iter()
            .flatten()
            .any(|day| {
                self.day_spans(day)
                    .any(|(start, end)| start <= at && at < end)
            })
    }

    /// The instant when `amount` of business time has passed after `start` (start may be outside hours).
    ///
    /// A zero or negative amount gives `start`. If the calendar has no working
    /// time the deadline never comes and this saturates at the latest
    /// representable instant; use [`Self::checked_add_business_time`] to get an error instead.
    pub fn add_business_time(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        self.checked_add_business_time(start, amount)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Like [`Self::add_business_time`], but fails with [`SlaError::NoWorkingTime`]
    /// when the calendar has no working time (none at all, or none for
    /// 400 consecutive days), or [`SlaError::OutOfRange`] past the representable range.
    pub fn checked_add_business_time(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
    ) -> Result<DateTime<Utc>, SlaError> {
        if amount <= Duration::zero() {
            return Ok(start);
        }
        if self.weekly_seconds == 0 {
            return Err(SlaError::NoWorkingTime);
        }
        let weekly = self.weekly_working_time();
        let first_day = self.local_date(start);
        // Why: around a clock change at midnight the previous local day can still
        // have working time after `start`; spans are clamped to `start` anyway.
        let mut date = first_day.pred_opt().ok_or(SlaError::OutOfRange)?;
        let skip_from = first_day
            .checked_add_days(Days::new(2))
            .ok_or(SlaError::OutOfRange)?;
        let mut remaining = amount;
        let mut idle_days = 0_u32;
        loop {
            if date >= skip_from && remaining > weekly && self.is_plain_week(date) {
                remaining -= weekly;
                date = date
                    .checked_add_days(Days::new(7))
                    .ok_or(SlaError::OutOfRange)?;
                idle_days = 0;
                continue;
            }
            let mut worked = false;
            for (span_start, span_end) in self.day_spans(date) {
                let span_start = span_start.max(start);
                if span_end <= span_start {
                    continue;
                }
                worked = true;
                let length = span_end - span_start;
                if remaining <= length {
                    return span_start
                        .checked_add_signed(remaining)
                        .ok_or(SlaError::OutOfRange);
                }
                remaining -= length;
            }
            if worked {
                idle_days = 0;
            } else {
                idle_days += 1;
                if idle_days > MAX_IDLE_DAYS {
                    return Err(SlaError::NoWorkingTime);
                }
            }
            date = date.succ_opt().ok_or(SlaError::OutOfRange)?;
        }
    }

    /// Business time between two instants (0 if b <= a).
    pub fn business_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a || self.weekly_seconds == 0 {
            return Duration::zero();
        }
        let weekly = self.weekly_working_time();
        let first_day = self.local_date(a);
        let last_day = self.local_date(b);
        // Why: one extra day either side covers clock changes at midnight;
        // spans are clamped to [a, b] so the extra days add nothing otherwise.
        let (Some(mut date), Some(end_day)) = (first_day.pred_opt(), last_day.succ_opt()) else {
            return Duration::zero();
        };
        let skip_from = first_day.checked_add_days(Days::new(2));
        let skip_until = last_day.checked_sub_days(Days::new(8));
        let mut total = Duration::zero();
        while date <= end_day {
            let skippable = skip_from.is_some_and(|from| date >= from)
                && skip_until.is_some_and(|until| date <= until)
                && self.is_plain_week(date);
            if skippable && let Some(next) = date.checked_add_days(Days::new(7)) {
                total += weekly;
                date = next;
                continue;
            }
            for (span_start, span_end) in self.day_spans(date) {
                let span_start = span_start.max(a);
                let span_end = span_end.min(b);
                if span_start < span_end {
                    total += span_end - span_start;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// The working spans of a local date as UTC instants (none on holidays).
    fn day_spans(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let spans: &[Span] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.days[date.weekday().num_days_from_monday() as usize]
        };
        spans.iter().filter_map(move |span| {
            let start = self.instant_at(date, span.start)?;
            let end = self.instant_at(date, span.end)?;
            (start < end).then_some((start, end))
        })
    }

    /// Whether the seven days from `date` have no holiday and no clock change
    /// (the same UTC offset at both ends; no zone changes its clocks twice in a
    /// week), so that they hold exactly the weekly working time.
    fn is_plain_week(&self, date: NaiveDate) -> bool {
        let Some(end) = date.checked_add_days(Days::new(7)) else {
            return false;
        };
        if self.holidays.range(date..end).next().is_some() {
            return false;
        }
        match (self.instant_at(date, 0), self.instant_at(end, 0)) {
            (Some(a), Some(b)) => self.offset_at(a) == self.offset_at(b),
            _ => false,
        }
    }

    fn offset_at(&self, at: DateTime<Utc>) -> i32 {
        self.tz
            .offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// The first instant whose local time is at or after `seconds` past midnight of `date`.
    fn instant_at(&self, date: NaiveDate, seconds: u32) -> Option<DateTime<Utc>> {
        let (date, seconds) = if seconds >= DAY_SECONDS {
            (date.succ_opt()?, seconds - DAY_SECONDS)
        } else {
            (date, seconds)
        };
        let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0)?;
        self.first_instant_at_or_after(date.and_time(time))
    }

    fn first_instant_at_or_after(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut candidate = local;
        for _ in 0..=MAX_GAP_MINUTES {
            match self.tz.from_local_datetime(&candidate) {
                LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
                LocalResult::Ambiguous(earliest, _) => return Some(earliest.with_timezone(&Utc)),
                LocalResult::None => {
                    // Why: the local time is skipped by a clock change; gaps start
                    // and end on whole minutes, so stepping by minutes finds the end.
                    let minute = candidate.with_second(0)?.with_nanosecond(0)?;
                    candidate = minute.checked_add_signed(Duration::minutes(1))?;
                }
            }
        }
        None
    }
}

fn parse_clock(text: &str, is_end: bool) -> Result<NaiveTime, SlaError> {
    if is_end && matches!(text, "24:00" | "24:00:00") {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| SlaError::InvalidIntervals(format!("invalid time {text:?}")))
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
    pub fn default_for(priority: Priority) -> Self {
        match priority {
            Priority::Urgent => Self::from_minutes(15, 240, false, 5),
            Priority::High => Self::from_minutes(60, 480, true, 15),
            Priority::Normal => Self::from_minutes(120, 960, true, 30),
            Priority::Low => Self::from_minutes(240, 2400, true, 60),
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
        priority: Priority,
    },
    /// The status changed.
    StatusChanged {
        /// When.
        at: DateTime<Utc>,
        /// The new status.
        to: Status,
    },
    /// The priority changed.
    PriorityChanged {
        /// When.
        at: DateTime<Utc>,
        /// The new priority.
        to: Priority,
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

/// The overall SLA state of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlaState {
    /// Not done, no deadline missed or near.
    OnTrack,
    /// Not done and within `warn_before` of an unmet deadline.
    AtRisk,
    /// A target was missed (also for a done ticket).
    Breached,
    /// Done within both targets.
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
    pub priority: Priority,
    /// The ticket's current status.
    pub status: Status,
}

struct Segment {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: Status,
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
        calendar.checked_add_business_time(start, amount)
    } else {
        start
            .checked_add_signed(amount.max(Duration::zero()))
            .ok_or(SlaError::OutOfRange)
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
    targets: impl Fn(Priority) -> Targets,
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

    let mut status = Status::Open;
    let mut priority = initial;
    let mut cursor = created_at;
    let mut segments = Vec::new();
    let mut first_reply: Option<(DateTime<Utc>, Priority)> = None;
    let mut resolved: Option<(DateTime<Utc>, Priority)> = None;
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
    let running_now = status.resolution_runs();
    let mut counted = Duration::zero();
    let mut reached_at = None;
    let mut last_run_end = None;
    let last_index = segments.len() - 1;
    let mut paused_seconds = 0_i64;
    for (index, segment) in segments.iter().enumerate() {
        if segment.status.pauses_resolution() {
            paused_seconds += (segment.end - segment.start).num_seconds();
        }
        if !segment.status.resolution_runs() {
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
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::London;
    use serde_json::json;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    /// A local wall time ("2026-11-30 09:30") in `tz` as a UTC instant.
    fn local(tz: Tz, text: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("local time");
        tz.from_local_datetime(&naive)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    fn ist(text: &str) -> DateTime<Utc> {
        local(Kolkata, text)
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn mins(minutes: i64) -> Duration {
        Duration::minutes(minutes)
    }

    fn show(calendar: &BusinessCalendar, at: DateTime<Utc>) -> String {
        at.with_timezone(&calendar.time_zone())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn seed_intervals() -> serde_json::Value {
        let mut intervals = Vec::new();
        for weekday in 1..=5 {
            intervals.push(json!({"weekday": weekday, "start": "09:30", "end": "13:00"}));
            intervals.push(json!({"weekday": weekday, "start": "14:00", "end": "18:00"}));
        }
        serde_json::Value::Array(intervals)
    }

    /// The seeded India office calendar with Christmas 2026 (a Friday) as a holiday.
    fn india() -> BusinessCalendar {
        BusinessCalendar::from_parts("Asia/Kolkata", &seed_intervals(), [date("2026-12-25")])
            .expect("india calendar")
    }

    fn nine_to_five(tz: Tz) -> BusinessCalendar {
        let intervals = WEEKDAYS[..5]
            .iter()
            .map(|&weekday| WorkInterval {
                weekday,
                start: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
                end: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
            })
            .collect();
        BusinessCalendar::new(tz, intervals, []).expect("calendar")
    }

    fn sunday_calendar(start: &str, end: &str) -> BusinessCalendar {
        BusinessCalendar::from_parts(
            "America/New_York",
            &json!([{"weekday": 7, "start": start, "end": end}]),
            [],
        )
        .expect("sunday calendar")
    }

    /// Day by day, without skipping weeks: the reference for the fast paths.
    fn reference_between(
        calendar: &BusinessCalendar,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Duration {
        let mut total = Duration::zero();
        let mut day = calendar.local_date(a).pred_opt().expect("day");
        let last = calendar.local_date(b).succ_opt().expect("day");
        while day <= last {
            for (start, end) in calendar.day_spans(day) {
                let (start, end) = (start.max(a), end.min(b));
                if start < end {
                    total += end - start;
                }
            }
            day = day.succ_opt().expect("day");
        }
        total
    }

    fn high(at: DateTime<Utc>) -> TicketFact {
        TicketFact::Created {
            at,
            priority: Priority::High,
        }
    }

    fn created(at: DateTime<Utc>, priority: Priority) -> TicketFact {
        TicketFact::Created { at, priority }
    }

    fn status(at: DateTime<Utc>, to: Status) -> TicketFact {
        TicketFact::StatusChanged { at, to }
    }

    fn reply(at: DateTime<Utc>) -> TicketFact {
        TicketFact::StaffReply { at }
    }

    fn reprioritize(at: DateTime<Utc>, to: Priority) -> TicketFact {
        TicketFact::PriorityChanged { at, to }
    }

    fn snapshot(
        calendar: &BusinessCalendar,
        facts: &[TicketFact],
        now: DateTime<Utc>,
    ) -> SlaSnapshot {
        compute(calendar, Targets::default_for, facts, now).expect("snapshot")
    }

    #[test]
    fn domain_example_1630_with_one_hour_target_is_due_0930_next_working_day() {
        let calendar = nine_to_five(Kolkata);
        let cases = [
            ("2026-12-01 16:30", "2026-12-02 09:30"), // Tuesday -> Wednesday
            ("2026-12-04 16:30", "2026-12-07 09:30"), // Friday -> Monday
        ];
        for (opened, due) in cases {
            let opened = ist(opened);
            let at = calendar.add_business_time(opened, Duration::hours(1));
            assert_eq!(show(&calendar, at), due, "opened {opened}");
            let snap = snapshot(&calendar, &[high(opened)], opened);
            assert_eq!(snap.first_response_due_at, ist(due));
            assert_eq!(snap.state, SlaState::OnTrack);
        }
    }

    #[test]
    fn add_business_time_with_lunch_breaks_weekends_and_holidays() {
        let calendar = india();
        let cases = [
            ("2026-11-30 09:30", 60, "2026-11-30 10:30", "inside hours"),
            ("2026-11-30 12:30", 60, "2026-11-30 14:30", "across lunch"),
            ("2026-11-30 13:00", 60, "2026-11-30 15:00", "at lunch start"),
            ("2026-11-30 13:30", 30, "2026-11-30 14:30", "during lunch"),
            ("2026-11-30 08:00", 60, "2026-11-30 10:30", "before opening"),
            ("2026-11-30 00:00", 1, "2026-11-30 09:31", "at midnight"),
            ("2026-11-30 19:00", 60, "2026-12-01 10:30", "after closing"),
            (
                "2026-11-30 17:30",
                60,
                "2026-12-01 10:00",
                "across the night",
            ),
            (
                "2026-11-30 17:30",
                30,
                "2026-11-30 18:00",
                "lands on closing",
            ),
            ("2026-11-30 09:30", 450, "2026-11-30 18:00", "one full day"),
            (
                "2026-11-30 09:30",
                451,
                "2026-12-01 09:31",
                "a day and a minute",
            ),
            (
                "2026-12-04 17:30",
                60,
                "2026-12-07 10:00",
                "across the weekend",
            ),
            (
                "2026-12-05 11:00",
                60,
                "2026-12-07 10:30",
                "start on Saturday",
            ),
            (
                "2026-11-30 09:30",
                2400,
                "2026-12-07 12:00",
                "five business days",
            ),
            (
                "2026-12-24 17:30",
                60,
                "2026-12-28 10:00",
                "holiday on the due day",
            ),
            (
                "2026-12-25 10:00",
                60,
                "2026-12-28 10:30",
                "start on a holiday",
            ),
            ("2026-12-05 11:00", 0, "2026-12-05 11:00", "zero amount"),
        ];
        for (start, minutes, expected, why) in cases {
            let at = calendar.add_business_time(ist(start), mins(minutes));
            assert_eq!(show(&calendar, at), expected, "{why}");
        }
        assert_eq!(
            calendar.add_business_time(ist("2026-11-30 10:00"), mins(-5)),
            ist("2026-11-30 10:00")
        );
    }

    #[test]
    fn business_time_between_table() {
        let calendar = india();
        let cases = [
            ("2026-11-30 09:00", "2026-11-30 19:00", 450, "a whole day"),
            (
                "2026-11-30 12:00",
                "2026-11-30 15:00",
                120,
                "lunch excluded",
            ),
            ("2026-11-30 13:10", "2026-11-30 13:50", 0, "inside lunch"),
            (
                "2026-12-04 17:00",
                "2026-12-07 10:30",
                120,
                "weekend excluded",
            ),
            (
                "2026-12-24 17:00",
                "2026-12-28 10:00",
                90,
                "holiday excluded",
            ),
            (
                "2026-11-30 00:00",
                "2026-12-28 00:00",
                4 * 2250 - 450,
                "four weeks, one holiday",
            ),
            ("2026-11-30 10:00", "2026-11-30 10:00", 0, "empty"),
            ("2026-11-30 11:00", "2026-11-30 10:00", 0, "reversed"),
        ];
        for (a, b, minutes, why) in cases {
            assert_eq!(
                calendar.business_time_between(ist(a), ist(b)),
                mins(minutes),
                "{why}"
            );
        }
        assert_eq!(calendar.weekly_working_time(), mins(2250));
    }

    #[test]
    fn add_and_between_are_inverse() {
        let calendars = [india(), nine_to_five(New_York), nine_to_five(London)];
        let amounts = [1, 29, 60, 449, 450, 451, 2400, 10_000];
        for calendar in &calendars {
            // Every 53 minutes over three weeks around the US and UK clock changes.
            let mut start = utc("2027-03-05T00:07:00Z");
            while start < utc("2027-03-26T00:00:00Z") {
                for minutes in amounts {
                    let amount = mins(minutes);
                    let end = calendar.add_business_time(start, amount);
                    assert_eq!(
                        calendar.business_time_between(start, end),
                        amount,
                        "{start} + {minutes}"
                    );
                    // The earliest such instant: a second less is not enough.
                    let before = end - Duration::seconds(1);
                    assert!(calendar.business_time_between(start, before) < amount);
                    assert_eq!(
                        calendar
                            .add_business_time(start, calendar.business_time_between(start, end)),
                        end
                    );
                }
                start += mins(53);
            }
        }
    }

    #[test]
    fn long_spans_skip_weeks_and_match_the_day_by_day_reference() {
        let holidays = [date("2027-01-26"), date("2027-08-15"), date("2027-10-02")];
        let calendars = [
            BusinessCalendar::from_parts("Asia/Kolkata", &seed_intervals(), holidays)
                .expect("calendar"),
            nine_to_five(New_York),
            nine_to_five(London),
        ];
        let start = utc("2026-11-30T11:17:00Z");
        for calendar in &calendars {
            for hours in [100_i64, 1_000, 3_000] {
                let end = calendar.add_business_time(start, Duration::hours(hours));
                assert_eq!(
                    reference_between(calendar, start, end),
                    Duration::hours(hours)
                );
                assert_eq!(
                    calendar.business_time_between(start, end),
                    Duration::hours(hours)
                );
            }
        }
        // Decades of business time stay fast and exact.
        let calendar = india();
        let amount = Duration::hours(100_000);
        let end = calendar.add_business_time(start, amount);
        assert!(end > utc("2070-01-01T00:00:00Z"));
        assert_eq!(calendar.business_time_between(start, end), amount);
    }

    #[test]
    fn kolkata_half_hour_offset() {
        let calendar = india();
        assert_eq!(ist("2026-11-30 09:30"), utc("2026-11-30T04:00:00Z"));
        assert_eq!(
            calendar.add_business_time(utc("2026-11-30T03:00:00Z"), mins(60)),
            utc("2026-11-30T05:00:00Z")
        );
        assert!(calendar.is_working_time(utc("2026-11-30T04:00:00Z")));
        assert!(!calendar.is_working_time(utc("2026-11-30T03:59:59Z")));
        assert!(!calendar.is_working_time(utc("2026-11-30T07:45:00Z")));
    }

    #[test]
    fn same_local_hours_in_different_zones() {
        let opened = "2026-12-01 16:30";
        let cases = [
            (Kolkata, "2026-12-02T04:00:00Z"),
            (New_York, "2026-12-02T14:30:00Z"),
            (London, "2026-12-02T09:30:00Z"),
        ];
        for (tz, expected) in cases {
            let calendar = nine_to_five(tz);
            let due = calendar.add_business_time(local(tz, opened), mins(60));
            assert_eq!(due, utc(expected), "{tz}");
            assert_eq!(show(&calendar, due), "2026-12-02 09:30");
        }
    }

    #[test]
    fn clock_changes_in_new_york_and_london() {
        let new_york = nine_to_five(New_York);
        // Spring forward on Sunday 2027-03-14: Friday is EST, Monday EDT.
        let due = new_york.add_business_time(local(New_York, "2027-03-12 16:30"), mins(60));
        assert_eq!(due, utc("2027-03-15T13:30:00Z"));
        assert_eq!(
            new_york.business_time_between(
                local(New_York, "2027-03-12 09:00"),
                local(New_York, "2027-03-15 17:00")
            ),
            Duration::hours(16)
        );
        // Fall back on Sunday 2026-11-01: Friday is EDT, Monday EST.
        let due = new_york.add_business_time(local(New_York, "2026-10-30 16:30"), mins(60));
        assert_eq!(due, utc("2026-11-02T14:30:00Z"));
        // London leaves GMT on Sunday 2027-03-28.
        let london = nine_to_five(London);
        let due = london.add_business_time(utc("2027-03-26T16:30:00Z"), mins(60));
        assert_eq!(due, utc("2027-03-29T08:30:00Z"));
        assert_eq!(
            london.business_time_between(utc("2027-03-26T00:00:00Z"), utc("2027-04-02T23:00:00Z")),
            Duration::hours(48)
        );
    }

    #[test]
    fn working_intervals_through_a_clock_change() {
        let week = |calendar: &BusinessCalendar, saturday: &str| {
            let start = local(New_York, &format!("{saturday} 12:00"));
            calendar.business_time_between(start, start + Duration::days(2))
        };
        let early = sunday_calendar("01:00", "04:00");
        assert_eq!(
            week(&early, "2027-03-06"),
            Duration::hours(3),
            "an ordinary Sunday"
        );
        assert_eq!(
            week(&early, "2027-03-13"),
            Duration::hours(2),
            "02:00-03:00 is skipped"
        );
        assert_eq!(
            week(&early, "2026-10-31"),
            Duration::hours(4),
            "01:00-02:00 happens twice"
        );
        // An interval starting inside the gap starts when the gap ends (03:00 EDT).
        let in_gap = sunday_calendar("02:30", "05:00");
        assert_eq!(week(&in_gap, "2027-03-13"), Duration::hours(2));
        assert_eq!(
            in_gap.add_business_time(local(New_York, "2027-03-13 12:00"), mins(1)),
            utc("2027-03-14T07:01:00Z")
        );
    }

    #[test]
    fn from_parts_parses_the_seed_and_rejects_bad_data() {
        let calendar = india();
        assert_eq!(calendar.time_zone(), Kolkata);
        assert_eq!(calendar.intervals().len(), 10);
        assert_eq!(calendar.holidays().len(), 1);

        let err = |tz: &str, intervals: serde_json::Value| {
            BusinessCalendar::from_parts(tz, &intervals, []).expect_err("invalid calendar")
        };
        assert_eq!(
            err("Mars/Olympus", json!([])),
            SlaError::UnknownTimeZone("Mars/Olympus".into())
        );
        for bad in [
            json!({"weekday": 1}),
            json!([{"weekday": 0, "start": "09:00", "end": "10:00"}]),
            json!([{"weekday": 8, "start": "09:00", "end": "10:00"}]),
            json!([{"weekday": 1, "start": "9am", "end": "10:00"}]),
            json!([{"weekday": 1, "start": "24:00", "end": "10:00"}]),
            json!([{"weekday": 1, "start": "09:00"}]),
            json!([{"weekday": "Mon", "start": "09:00", "end": "10:00"}]),
        ] {
            assert!(
                matches!(err("UTC", bad.clone()), SlaError::InvalidIntervals(_)),
                "{bad}"
            );
        }
        assert!(matches!(
            err(
                "UTC",
                json!([{"weekday": 2, "start": "10:00", "end": "10:00"}])
            ),
            SlaError::EmptyInterval {
                weekday: Weekday::Tue,
                ..
            }
        ));
        assert!(matches!(
            err(
                "UTC",
                json!([{"weekday": 2, "start": "11:00", "end": "10:00"}])
            ),
            SlaError::EmptyInterval { .. }
        ));
        assert_eq!(
            err(
                "UTC",
                json!([
                    {"weekday": 3, "start": "09:00", "end": "12:00"},
                    {"weekday": 3, "start": "11:59", "end": "15:00"}
                ])
            ),
            SlaError::OverlappingIntervals(Weekday::Wed)
        );
        // Touching intervals and seconds are fine.
        let touching = BusinessCalendar::from_parts(
            "UTC",
            &json!([
                {"weekday": 3, "start": "09:00", "end": "12:00"},
                {"weekday": 3, "start": "12:00", "end": "15:00:30"}
            ]),
            [],
        )
        .expect("touching intervals");
        assert_eq!(
            touching.weekly_working_time(),
            Duration::seconds(6 * 3600 + 30)
        );
    }

    #[test]
    fn an_interval_can_end_at_midnight() {
        let calendar = BusinessCalendar::from_parts(
            "Asia/Kolkata",
            &json!([
                {"weekday": 1, "start": "22:00", "end": "24:00"},
                {"weekday": 2, "start": "00:00", "end": "02:00"}
            ]),
            [],
        )
        .expect("night shift");
        assert_eq!(calendar.weekly_working_time(), Duration::hours(4));
        let due = calendar.add_business_time(ist("2026-11-30 23:00"), mins(90));
        assert_eq!(show(&calendar, due), "2026-12-01 00:30");
        assert_eq!(
            calendar.business_time_between(ist("2026-11-30 00:00"), ist("2026-12-02 00:00")),
            Duration::hours(4)
        );
    }

    #[test]
    fn a_calendar_without_working_time_is_an_error() {
        let empty = BusinessCalendar::from_parts("Asia/Kolkata", &json!([]), []).expect("empty");
        let opened = ist("2026-11-30 10:00");
        assert_eq!(
            empty.checked_add_business_time(opened, mins(1)),
            Err(SlaError::NoWorkingTime)
        );
        assert_eq!(
            empty.add_business_time(opened, mins(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            empty.business_time_between(opened, opened + Duration::days(30)),
            Duration::zero()
        );
        assert_eq!(
            compute(&empty, Targets::default_for, &[high(opened)], opened),
            Err(SlaError::NoWorkingTime)
        );
        // Wall-clock targets do not need the calendar.
        let urgent = compute(
            &empty,
            Targets::default_for,
            &[created(opened, Priority::Urgent)],
            opened,
        )
        .expect("urgent");
        assert_eq!(urgent.first_response_due_at, opened + mins(15));

        // Only Mondays, and the next 60 Mondays are holidays: the search gives up.
        let mondays = (0..60).map(|week| date("2026-11-30") + Days::new(7 * week));
        let mondays_off = BusinessCalendar::from_parts(
            "Asia/Kolkata",
            &json!([{"weekday": 1, "start": "09:00", "end": "17:00"}]),
            mondays,
        )
        .expect("calendar");
        assert_eq!(
            mondays_off.checked_add_business_time(opened, mins(1)),
            Err(SlaError::NoWorkingTime)
        );
    }

    #[test]
    fn priority_and_status_round_trip() {
        for priority in Priority::ALL {
            assert_eq!(Priority::from_db(priority.as_db()), Ok(priority));
        }
        for status in Status::ALL {
            assert_eq!(Status::from_db(status.as_db()), Ok(status));
        }
        assert_eq!(
            Priority::from_db("p1"),
            Err(SlaError::UnknownPriority("p1".into()))
        );
        assert_eq!(
            Status::from_db("done"),
            Err(SlaError::UnknownStatus("done".into()))
        );
        assert!(Status::WaitingOnClient.pauses_resolution());
        assert!(!Status::Open.pauses_resolution());
        assert!(Status::Resolved.is_done() && Status::Closed.is_done());
        assert!(!Status::InProgress.is_done());
        assert_eq!(
            Targets::from_minutes(60, 480, true, 15),
            Targets::default_for(Priority::High)
        );
    }

    #[test]
    fn first_response_met_late_missing_and_on_the_dot() {
        let calendar = india();
        let opened = ist("2026-11-30 09:30");
        // (reply, now, breached, state); the high first response is due 10:30.
        let cases = [
            (
                Some("2026-11-30 10:00"),
                "2026-11-30 11:00",
                false,
                SlaState::OnTrack,
            ),
            (
                Some("2026-11-30 10:30"),
                "2026-11-30 11:00",
                false,
                SlaState::OnTrack,
            ),
            (
                Some("2026-11-30 10:45"),
                "2026-11-30 11:00",
                true,
                SlaState::Breached,
            ),
            (None, "2026-11-30 10:00", false, SlaState::OnTrack),
            (None, "2026-11-30 10:15", false, SlaState::AtRisk),
            (None, "2026-11-30 10:31", true, SlaState::Breached),
        ];
        for (replied, now, breached, state) in cases {
            let mut facts = vec![high(opened)];
            facts.extend(replied.map(|at| reply(ist(at))));
            let snap = snapshot(&calendar, &facts, ist(now));
            assert_eq!(snap.first_response_due_at, ist("2026-11-30 10:30"));
            assert_eq!(snap.first_responded_at, replied.map(ist));
            assert_eq!(snap.first_response_breached, breached, "{replied:?} {now}");
            assert_eq!(snap.state, state, "{replied:?} {now}");
            assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 10:00")));
        }
    }

    #[test]
    fn only_public_staff_replies_are_responses() {
        // Internal notes and customer messages never become facts; status
        // changes alone do not answer the ticket.
        let calendar = india();
        let opened = ist("2026-11-30 09:30");
        let facts = [
            high(opened),
            status(ist("2026-11-30 09:35"), Status::InProgress),
            status(ist("2026-11-30 09:40"), Status::WaitingOnClient),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
        assert_eq!(snap.first_responded_at, None);
        assert!(
            snap.first_response_breached,
            "the first-response clock never pauses"
        );
        assert_eq!(snap.resolution_due_at, None);
        assert_eq!(snap.state, SlaState::Breached);
    }

    #[test]
    fn a_pause_extends_the_deadline() {
        let calendar = india();
        let opened = ist("2026-11-30 09:30");
        let facts = [
            high(opened),
            reply(ist("2026-11-30 09:45")),
            status(ist("2026-11-30 11:30"), Status::WaitingOnClient),
            status(ist("2026-12-02 10:00"), Status::Open),
        ];
        // While paused: no deadline, six business hours left.
        let paused = snapshot(&calendar, &facts[..3], ist("2026-12-01 15:00"));
        assert_eq!(paused.resolution_due_at, None);
        assert_eq!(paused.resolution_remaining, Duration::hours(6));
        assert_eq!(
            paused.paused_seconds,
            (ist("2026-12-01 15:00") - ist("2026-11-30 11:30")).num_seconds()
        );
        assert_eq!(paused.state, SlaState::OnTrack);
        // Resumed: the six hours count from the resume (without the pause: Tue 10:00).
        let resumed = snapshot(&calendar, &facts, ist("2026-12-02 10:00"));
        assert_eq!(resumed.resolution_due_at, Some(ist("2026-12-02 17:00")));
        assert_eq!(resumed.resolution_remaining, Duration::hours(6));
        assert_eq!(resumed.paused_seconds, 46 * 3600 + 1800);
        assert!(!resumed.resolution_breached);
        let unpaused = snapshot(&calendar, &facts[..2], ist("2026-11-30 11:30"));
        assert_eq!(unpaused.resolution_due_at, Some(ist("2026-12-01 10:00")));
    }

    #[test]
    fn weekends_count_neither_as_business_time_nor_twice_as_pause() {
        let calendar = india();
        let opened = ist("2026-12-04 09:30");
        // Not paused: Friday gives 7.5 h, the weekend nothing.
        let answered = [high(opened), reply(ist("2026-12-04 10:00"))];
        let open = snapshot(&calendar, &answered, ist("2026-12-07 09:45"));
        assert_eq!(open.resolution_due_at, Some(ist("2026-12-07 10:00")));
        assert_eq!(open.resolution_remaining, mins(15));
        assert_eq!(open.state, SlaState::AtRisk);
        // Paused from Friday 15:00 (4.5 h used) to Monday 10:00.
        let facts = [
            high(opened),
            reply(ist("2026-12-04 10:00")),
            status(ist("2026-12-04 15:00"), Status::WaitingOnClient),
            status(ist("2026-12-07 10:00"), Status::InProgress),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-12-07 10:00"));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-07 14:30")));
        assert_eq!(snap.resolution_remaining, mins(210));
        assert_eq!(snap.paused_seconds, 67 * 3600);
    }

    #[test]
    fn double_pause_and_repeated_statuses_do_not_double_count() {
        let calendar = india();
        let facts = [
            high(ist("2026-11-30 09:30")),
            reply(ist("2026-11-30 09:45")),
            status(ist("2026-11-30 10:30"), Status::WaitingOnClient),
            status(ist("2026-11-30 11:00"), Status::WaitingOnClient),
            status(ist("2026-11-30 12:00"), Status::Open),
            status(ist("2026-11-30 12:30"), Status::InProgress),
            status(ist("2026-11-30 12:45"), Status::InProgress),
            status(ist("2026-11-30 14:30"), Status::WaitingOnClient),
            status(ist("2026-12-01 09:30"), Status::Open),
        ];
        // Counted: 09:30-10:30, 12:00-13:00, 14:00-14:30 = 2.5 h of 8 h.
        let snap = snapshot(&calendar, &facts, ist("2026-12-01 09:30"));
        assert_eq!(snap.resolution_remaining, mins(330));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 16:00")));
        assert_eq!(snap.paused_seconds, 90 * 60 + 19 * 3600);
        assert_eq!(snap.state, SlaState::OnTrack);
    }

    #[test]
    fn reopening_resumes_the_clock() {
        let calendar = india();
        let mut facts = vec![
            high(ist("2026-11-30 09:30")),
            reply(ist("2026-11-30 09:40")),
            status(ist("2026-11-30 11:30"), Status::Resolved),
        ];
        let resolved = snapshot(&calendar, &facts, ist("2026-11-30 12:00"));
        assert_eq!(resolved.resolved_at, Some(ist("2026-11-30 11:30")));
        assert_eq!(resolved.state, SlaState::Met);
        assert_eq!(resolved.resolution_remaining, Duration::hours(6));

        facts.push(status(ist("2026-12-01 09:30"), Status::Open));
        let reopened = snapshot(&calendar, &facts, ist("2026-12-01 10:00"));
        assert_eq!(reopened.resolved_at, None);
        assert_eq!(reopened.status, Status::Open);
        // The night while resolved counts for nothing: 6 h from Tuesday 09:30.
        assert_eq!(reopened.resolution_due_at, Some(ist("2026-12-01 16:30")));
        assert_eq!(reopened.resolution_remaining, mins(330));
        assert_eq!(reopened.paused_seconds, 0);
        assert_eq!(reopened.state, SlaState::OnTrack);

        // Resolved again later, then closed: resolved_at is the second resolution.
        facts.push(status(ist("2026-12-01 11:00"), Status::Resolved));
        facts.push(status(ist("2026-12-02 11:00"), Status::Closed));
        let closed = snapshot(&calendar, &facts, ist("2026-12-03 11:00"));
        assert_eq!(closed.resolved_at, Some(ist("2026-12-01 11:00")));
        assert_eq!(closed.state, SlaState::Met);
    }

    #[test]
    fn priority_changes_retarget_and_keep_elapsed_time() {
        let calendar = india();
        let opened = ist("2026-11-30 09:30");
        // (facts after creation as normal, now, expected resolution due)
        let cases: [(Vec<TicketFact>, &str, &str); 3] = [
            // Up to high after 4 business hours: 4 h of 8 h left.
            (
                vec![reprioritize(ist("2026-11-30 14:30"), Priority::High)],
                "2026-11-30 14:30",
                "2026-12-01 10:00",
            ),
            // Up and down again: normal's 16 h from creation.
            (
                vec![
                    reprioritize(ist("2026-11-30 10:00"), Priority::High),
                    reprioritize(ist("2026-11-30 11:00"), Priority::Normal),
                ],
                "2026-11-30 11:00",
                "2026-12-02 10:30",
            ),
            // Down to low after 5 h: 35 h of 40 h left.
            (
                vec![reprioritize(ist("2026-11-30 15:30"), Priority::Low)],
                "2026-11-30 15:30",
                "2026-12-07 12:00",
            ),
        ];
        for (changes, now, due) in cases {
            let mut facts = vec![created(opened, Priority::Normal)];
            facts.extend(changes);
            let snap = snapshot(&calendar, &facts, ist(now));
            assert_eq!(snap.resolution_due_at, Some(ist(due)), "{facts:?}");
        }
        // The same as a ticket opened as high.
        let as_high = snapshot(&calendar, &[high(opened)], ist("2026-11-30 14:30"));
        assert_eq!(as_high.resolution_due_at, Some(ist("2026-12-01 10:00")));
    }

    #[test]
    fn an_answered_first_response_keeps_the_targets_it_was_answered_under() {
        let calendar = india();
        let facts = [
            created(ist("2026-11-30 09:30"), Priority::Normal),
            reply(ist("2026-11-30 10:45")),
            reprioritize(ist("2026-11-30 11:00"), Priority::High),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
        assert_eq!(snap.first_response_due_at, ist("2026-11-30 11:30"));
        assert!(!snap.first_response_breached);
        assert_eq!(snap.priority, Priority::High);
        // Unanswered, the current priority's target applies and is already missed.
        let snap = snapshot(&calendar, &[facts[0], facts[2]], ist("2026-11-30 11:00"));
        assert_eq!(snap.first_response_due_at, ist("2026-11-30 10:30"));
        assert!(snap.first_response_breached);
    }

    #[test]
    fn switching_between_wall_clock_and_business_targets_measures_consistently() {
        let calendar = india();
        // Normal, paused 10:00-11:00, urgent at 11:00: 30 wall minutes used of 4 h.
        let facts = [
            created(ist("2026-11-30 09:30"), Priority::Normal),
            status(ist("2026-11-30 10:00"), Status::WaitingOnClient),
            status(ist("2026-11-30 11:00"), Status::Open),
            reprioritize(ist("2026-11-30 11:00"), Priority::Urgent),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-11-30 11:00"));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-11-30 14:30")));
        assert_eq!(snap.resolution_remaining, mins(210));
        assert_eq!(snap.first_response_due_at, ist("2026-11-30 09:45"));
        assert!(snap.first_response_breached);
        // Urgent on Saturday, high two hours later: no business time used yet.
        let facts = [
            created(ist("2026-12-05 10:00"), Priority::Urgent),
            reprioritize(ist("2026-12-05 12:00"), Priority::High),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-12-05 12:00"));
        assert_eq!(snap.resolution_remaining, Duration::hours(8));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-08 10:00")));
        assert_eq!(snap.first_response_due_at, ist("2026-12-07 10:30"));
    }

    #[test]
    fn urgent_targets_count_wall_clock_time() {
        let calendar = india();
        let opened = ist("2026-12-05 03:00"); // Saturday night
        let facts = [created(opened, Priority::Urgent)];
        let cases = [
            ("2026-12-05 03:05", SlaState::OnTrack),
            ("2026-12-05 03:10", SlaState::AtRisk),
            ("2026-12-05 03:15", SlaState::AtRisk),
            ("2026-12-05 03:16", SlaState::Breached),
        ];
        for (now, state) in cases {
            let snap = snapshot(&calendar, &facts, ist(now));
            assert_eq!(snap.first_response_due_at, ist("2026-12-05 03:15"));
            assert_eq!(snap.resolution_due_at, Some(ist("2026-12-05 07:00")));
            assert_eq!(snap.state, state, "{now}");
        }
    }

    #[test]
    fn at_risk_window_counts_business_time() {
        let calendar = india();
        let facts = [
            high(ist("2026-11-30 09:30")),
            reply(ist("2026-11-30 09:40")),
        ];
        // The resolution is due Tuesday 10:00; warn 15 business minutes before.
        let cases = [
            ("2026-11-30 17:50", SlaState::OnTrack), // 40 business minutes left
            ("2026-12-01 09:44", SlaState::OnTrack),
            ("2026-12-01 09:45", SlaState::AtRisk),
            ("2026-12-01 10:00", SlaState::AtRisk),
            ("2026-12-01 10:01", SlaState::Breached),
        ];
        for (now, state) in cases {
            assert_eq!(snapshot(&calendar, &facts, ist(now)).state, state, "{now}");
        }
        // With a 45-minute warning, 40 business minutes left at Monday 17:50
        // is at risk all night, though 16 wall-clock hours remain.
        let wary = |priority| Targets {
            warn_before: mins(45),
            ..Targets::default_for(priority)
        };
        for now in ["2026-11-30 17:14", "2026-11-30 17:50", "2026-11-30 23:00"] {
            let state = compute(&calendar, wary, &facts, ist(now))
                .expect("snapshot")
                .state;
            let expected = if now.ends_with("17:14") {
                SlaState::OnTrack
            } else {
                SlaState::AtRisk
            };
            assert_eq!(state, expected, "{now}");
        }
        // A paused ticket has no deadline to be at risk of.
        let paused = [
            high(ist("2026-11-30 09:30")),
            reply(ist("2026-11-30 09:40")),
            status(ist("2026-12-01 09:50"), Status::WaitingOnClient),
        ];
        assert_eq!(
            snapshot(&calendar, &paused, ist("2026-12-01 09:55")).state,
            SlaState::OnTrack
        );
    }

    #[test]
    fn met_or_breached_after_resolution() {
        let calendar = india();
        let opened = ist("2026-11-30 09:30");
        // (reply, resolved, first breached, resolution breached, state)
        let cases = [
            (
                Some("2026-11-30 10:00"),
                "2026-11-30 15:00",
                false,
                false,
                SlaState::Met,
            ),
            (
                Some("2026-11-30 10:00"),
                "2026-12-01 10:00",
                false,
                false,
                SlaState::Met,
            ),
            (
                Some("2026-11-30 10:00"),
                "2026-12-01 10:01",
                false,
                true,
                SlaState::Breached,
            ),
            (
                Some("2026-11-30 11:00"),
                "2026-11-30 15:00",
                true,
                false,
                SlaState::Breached,
            ),
            (None, "2026-11-30 10:15", false, false, SlaState::Met),
            (None, "2026-11-30 11:00", true, false, SlaState::Breached),
        ];
        for (replied, resolved, first, resolution, state) in cases {
            let mut facts = vec![high(opened)];
            facts.extend(replied.map(|at| reply(ist(at))));
            facts.push(status(ist(resolved), Status::Resolved));
            let snap = snapshot(&calendar, &facts, ist("2026-12-10 12:00"));
            assert_eq!(snap.resolved_at, Some(ist(resolved)));
            assert_eq!(
                snap.first_response_breached, first,
                "{replied:?} {resolved}"
            );
            assert_eq!(
                snap.resolution_breached, resolution,
                "{replied:?} {resolved}"
            );
            assert_eq!(snap.state, state, "{replied:?} {resolved}");
        }
    }

    #[test]
    fn a_deadline_missed_before_a_pause_stays_missed() {
        let calendar = india();
        let facts = [
            high(ist("2026-11-30 09:30")),
            reply(ist("2026-11-30 09:40")),
            status(ist("2026-12-01 11:00"), Status::WaitingOnClient),
        ];
        let snap = snapshot(&calendar, &facts, ist("2026-12-02 11:00"));
        assert_eq!(snap.resolution_due_at, Some(ist("2026-12-01 10:00")));
        assert_eq!(snap.resolution_remaining, Duration::zero());
        assert!(snap.resolution_breached);
        assert_eq!(snap.state, SlaState::Breached);
        // Paused exactly at the deadline is not a breach; resuming is.
        let mut facts = facts;
        facts[2] = status(ist("2026-12-01 10:00"), Status::WaitingOnClient);
        assert!(!snapshot(&calendar, &facts, ist("2026-12-02 11:00")).resolution_breached);
        let mut resumed = facts.to_vec();
        resumed.push(status(ist("2026-12-03 10:00"), Status::Open));
        assert!(snapshot(&calendar, &resumed, ist("2026-12-03 10:01")).resolution_breached);
    }

    #[test]
    fn history_is_validated_and_ordered() {
        let calendar = india();
        let now = ist("2026-11-30 12:00");
        let opened = ist("2026-11-30 09:30");
        for facts in [
            vec![],
            vec![reply(ist("2026-11-30 09:00")), high(opened)],
            vec![high(opened), high(ist("2026-11-30 10:00"))],
        ] {
            assert!(matches!(
                compute(&calendar, Targets::default_for, &facts, now),
                Err(SlaError::InvalidHistory(_))
            ));
        }
        // Facts out of order are sorted; `now` before the last fact is raised to it.
        let ordered = [
            high(opened),
            reply(ist("2026-11-30 10:00")),
            status(ist("2026-11-30 11:00"), Status::Resolved),
        ];
        let shuffled = [ordered[2], ordered[0], ordered[1]];
        assert_eq!(
            snapshot(&calendar, &shuffled, now),
            snapshot(&calendar, &ordered, now)
        );
        let early = snapshot(&calendar, &ordered, ist("2026-11-30 10:30"));
        assert_eq!(early.resolved_at, Some(ist("2026-11-30 11:00")));
    }
}
