//! The one time format of the API: RFC 3339, UTC, microseconds, `Z`, as Django REST Framework
//! writes it (`2026-11-27T19:30:00.123456Z`).

use time::OffsetDateTime;
use time::macros::format_description;

/// Formats microseconds since the Unix epoch.
pub fn format_micros(micros: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_microseconds_and_a_z() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_micros(1_795_807_800_123_456),
            "2026-11-27T19:30:00.123456Z"
        );
    }
}
