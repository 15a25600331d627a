//! Time as the records keep it: a millisecond UTC timestamp that each
//! database stores in its own best form, and the office's calendar (China
//! Standard Time) for dates, years and the end of a local day.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SubsecRound, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// A point in time, millisecond precision, always UTC.
///
/// PostgreSQL keeps it as `timestamptz`; SQLite as INTEGER milliseconds since
/// the epoch so that comparisons and ordering in SQL are numeric, not textual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Serialize for Timestamp {
    /// Always three digits of milliseconds, `Z` for UTC (as `Display`), also
    /// when they are zero: `2026-12-01T01:30:00.000Z`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Accepts RFC 3339 with any offset; keeps milliseconds like the stores.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DateTime::<chrono::FixedOffset>::deserialize(deserializer).map(|time| Self::from(time.with_timezone(&Utc)))
    }
}

impl Timestamp {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    pub fn from_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        // Both stores keep milliseconds; truncating here makes a value read
        // back equal to the value written.
        Self(value.trunc_subsecs(3))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC, milliseconds"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {
    fn name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self::from(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let millis = <i64 as Decode<Sqlite>>::decode(value)?;
        Self::from_millis(millis).ok_or_else(|| format!("timestamp out of range: {millis}").into())
    }
}

/// China Standard Time: the office's calendar (no daylight saving).
pub fn china_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// The calendar date of a moment in China Standard Time.
pub fn local_date(at: Timestamp) -> NaiveDate {
    at.as_datetime().with_timezone(&china_time()).date_naive()
}

/// The year a case is numbered in.
pub fn local_year(at: Timestamp) -> i32 {
    local_date(at).year()
}

/// The first moment after the given local day.
pub fn end_of_local_day(date: NaiveDate) -> Timestamp {
    let next = date.succ_opt().unwrap_or(date);
    let midnight = china_time().from_local_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight")).unwrap();
    Timestamp::from(midnight.with_timezone(&Utc))
}

/// The moment a local date begins.
pub fn start_of_local_day(date: NaiveDate) -> Timestamp {
    end_of_local_day(date.pred_opt().unwrap_or(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_with_three_digits_of_milliseconds() {
        let on_the_minute = Timestamp::from(Utc.with_ymd_and_hms(2026, 12, 1, 1, 30, 0).unwrap());
        assert_eq!(serde_json::to_value(on_the_minute).unwrap(), "2026-12-01T01:30:00.000Z");
        let read: Timestamp = serde_json::from_str("\"2026-12-01T09:30:00.25+08:00\"").unwrap();
        assert_eq!(serde_json::to_value(read).unwrap(), "2026-12-01T01:30:00.250Z");
    }
}
