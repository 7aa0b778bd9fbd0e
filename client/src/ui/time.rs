//! Dates and times as people read and type them, in their own time zone.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// "Tue 1 Dec 2026, 14:30" for a Unix time in milliseconds.
pub fn when(ms: u64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms as i64) {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%a %-d %b %Y, %H:%M")
            .to_string(),
        Err(_) => "—".into(),
    }
}

/// "1 h 05 min", "12 min", "45 s".
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, 0) => "under a second".into(),
        (0, 0, s) => format!("{s} s"),
        (0, m, _) => format!("{m} min"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

/// A local date (`2026-12-01`) and time (`14:30`) in `tz` as Unix milliseconds.
pub fn parse_local(date: &str, time: &str, tz: &TimeZone) -> Result<u64, String> {
    let date: Date = date
        .trim()
        .parse()
        .map_err(|_| "Date: use the form 2026-12-01.".to_string())?;
    let time: Time = time
        .trim()
        .parse()
        .map_err(|_| "Time: use the form 14:30.".to_string())?;
    let zoned = DateTime::from_parts(date, time)
        .to_zoned(tz.clone())
        .map_err(|_| "That time does not exist in your time zone.".to_string())?;
    u64::try_from(zoned.timestamp().as_millisecond()).map_err(|_| "Date: too early.".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_shapes() {
        let utc = TimeZone::UTC;
        let ms = parse_local("2026-12-01", "14:30", &utc).unwrap();
        assert_eq!(ms, 1_796_135_400_000);
        assert_eq!(when(ms, &utc), "Tue 1 Dec 2026, 14:30");
        let plus_one = TimeZone::fixed(jiff::tz::offset(1));
        assert_eq!(parse_local("2026-12-01", "15:30", &plus_one).unwrap(), ms);
        assert_eq!(when(ms, &plus_one), "Tue 1 Dec 2026, 15:30");
        assert!(parse_local("1 Dec", "14:30", &utc).is_err());
        assert!(parse_local("2026-12-01", "2pm", &utc).is_err());
        assert_eq!(duration(400), "under a second");
        assert_eq!(duration(1_000), "1 s");
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(12 * 60_000), "12 min");
        assert_eq!(duration(65 * 60_000), "1 h 05 min");
    }
}
