//! Helpers on the generated [`Timestamp`], which keeps what arrived: an ISO string or epoch ms.

use crate::types::Timestamp;

impl Timestamp {
    /// Milliseconds since the Unix epoch: the number itself, or the ISO-8601 / RFC 3339 string
    /// (`2026-11-24T10:15:00.123Z`, `2026-11-24T11:15:00+01:00`) converted. `None` when the
    /// string is not such a date-time.
    ///
    /// ```
    /// use spaces_events::types::Timestamp;
    /// assert_eq!(Timestamp::Iso("1970-01-02T00:00:00.5Z".into()).unix_millis(), Some(86_400_500));
    /// assert_eq!(Timestamp::EpochMillis(42).unix_millis(), Some(42));
    /// ```
    pub fn unix_millis(&self) -> Option<i64> {
        match self {
            Timestamp::EpochMillis(ms) => Some(*ms),
            Timestamp::Iso(s) => parse_rfc3339(s),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`, also with a space or `t` for `T` and `z` for `Z`.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if sep(i, b".") {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Milliseconds from the first three fraction digits, padded; finer digits are dropped.
        millis = (start..start + 3)
            .map(|j| {
                b.get(j)
                    .filter(|_| j < i)
                    .map_or(0, |d| i64::from(d - b'0'))
            })
            .fold(0, |m, d| m * 10 + d);
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-24T10:15:00.000Z"),
            Some(1_795_515_300_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-24T11:15:00.1234+01:00"),
            Some(1_795_515_300_123)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9Z"), Some(-100));
        assert_eq!(
            parse_rfc3339("2024-02-29 12:00:00z"),
            Some(1_709_208_000_000)
        );
        for bad in [
            "",
            "2026-11-24",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-24T10:15:00",
            "2026-11-24T10:15:00.Z",
            "2026-11-24T10:15:00+0100",
            "2026-11-24T24:00:00Z",
            "２０２６-11-24T10:15:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
