//! The business calendar: a time zone, weekly working intervals and holidays,
//! and business time on it (adding it, measuring it).
//!
//! Everything here is pure: callers load a calendar from their own tables and
//! ask it questions. The support desk's SLA clocks run on it; leave, attendance
//! and invoice due dates are meant to use it too.

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

/// Why a calendar, a value from the database or a computation on it is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
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
    /// A computed instant is outside the representable range.
    #[error("date out of range")]
    OutOfRange,
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
    ) -> Result<Self, CalendarError> {
        let tz: Tz = time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone(time_zone.to_string()))?;
        let raw: Vec<RawInterval> = serde_json::from_value(intervals.clone())
            .map_err(|error| CalendarError::InvalidIntervals(error.to_string()))?;
        let intervals = raw
            .iter()
            .map(|raw| {
                let weekday = usize::from(raw.weekday)
                    .checked_sub(1)
                    .and_then(|index| WEEKDAYS.get(index))
                    .copied()
                    .ok_or_else(|| {
                        CalendarError::InvalidIntervals(format!(
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
            .collect::<Result<Vec<_>, CalendarError>>()?;
        Self::new(tz, intervals, holidays)
    }

    /// Builds a calendar; every interval must start before it ends and
    /// intervals of the same weekday must not overlap (touching is fine).
    pub fn new(
        tz: Tz,
        intervals: Vec<WorkInterval>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let mut intervals = intervals;
        for interval in &intervals {
            if interval.start_seconds() >= interval.end_seconds() {
                return Err(CalendarError::EmptyInterval {
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
            return Err(CalendarError::OverlappingIntervals(pair[0].weekday));
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

    /// Like [`Self::add_business_time`], but fails with [`CalendarError::NoWorkingTime`]
    /// when the calendar has no working time (none at all, or none for
    /// 400 consecutive days), or [`CalendarError::OutOfRange`] past the representable range.
    pub fn checked_add_business_time(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
    ) -> Result<DateTime<Utc>, CalendarError> {
        if amount <= Duration::zero() {
            return Ok(start);
        }
        if self.weekly_seconds == 0 {
            return Err(CalendarError::NoWorkingTime);
        }
        let weekly = self.weekly_working_time();
        let first_day = self.local_date(start);
        // Why: around a clock change at midnight the previous local day can still
        // have working time after `start`; spans are clamped to `start` anyway.
        let mut date = first_day.pred_opt().ok_or(CalendarError::OutOfRange)?;
        let skip_from = first_day
            .checked_add_days(Days::new(2))
            .ok_or(CalendarError::OutOfRange)?;
        let mut remaining = amount;
        let mut idle_days = 0_u32;
        loop {
            if date >= skip_from && remaining > weekly && self.is_plain_week(date) {
                remaining -= weekly;
                date = date
                    .checked_add_days(Days::new(7))
                    .ok_or(CalendarError::OutOfRange)?;
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
                        .ok_or(CalendarError::OutOfRange);
                }
                remaining -= length;
            }
            if worked {
                idle_days = 0;
            } else {
                idle_days += 1;
                if idle_days > MAX_IDLE_DAYS {
                    return Err(CalendarError::NoWorkingTime);
                }
            }
            date = date.succ_opt().ok_or(CalendarError::OutOfRange)?;
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

fn parse_clock(text: &str, is_end: bool) -> Result<NaiveTime, CalendarError> {
    if is_end && matches!(text, "24:00" | "24:00:00") {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| CalendarError::InvalidIntervals(format!("invalid time {text:?}")))
}

#[cfg(test)]
mod tests;
