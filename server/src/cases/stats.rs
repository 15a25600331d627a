//! The statistics a town office reports: how many disputes were registered
//! and how they ended, by channel, category, village and month, computed
//! from the cases in scope.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::{CaseState, Category, Channel, OutcomeKind};
use crate::time::Timestamp;
use crate::time::local_date;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct VillageCount {
    pub village_id: Uuid,
    pub village_name: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Statistics {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub cases_registered: u64,
    /// Written plus oral agreements.
    pub mediated_successfully: u64,
    pub written_agreements: u64,
    pub oral_agreements: u64,
    pub oral_in_person: u64,
    pub oral_phone: u64,
    pub oral_video: u64,
    pub failed: u64,
    pub referred: u64,
    pub withdrawn: u64,
    /// Cases still without an outcome.
    pub pending: u64,
    /// Cases with at least one video session that took place.
    pub cases_with_video_session: u64,
    pub legal_consultations: u64,
    /// Cases registered in the period by category; categories without a
    /// case are left out.
    pub by_category: Vec<Count>,
    /// Cases registered in the period by village (its id and name);
    /// villages without a case are left out.
    pub by_village: Vec<VillageCount>,
    /// Cases registered by month of registration, `YYYY-MM` in China time;
    /// months without a case are left out.
    pub by_month: Vec<Count>,
    /// Mean days (fractional, rounded to one decimal) from registration to
    /// the outcome, over the cases of the period that have one; absent
    /// when none has.
    pub average_days_to_outcome: Option<f64>,
    /// Cases registered more than 30 days ago that still have no outcome.
    pub open_over_one_month: u64,
}

/// Computes the statistics of the given cases and consultation count.
pub fn compute(
    rows: &[StatsRow],
    consultations: u64,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Timestamp,
) -> Statistics {
    let count = |pred: &dyn Fn(&StatsRow) -> bool| rows.iter().filter(|row| pred(row)).count() as u64;
    let oral = |via: Channel| count(&|r| r.outcome_kind == Some(OutcomeKind::Oral) && r.reached_via == Some(via));
    let written = count(&|r| r.outcome_kind == Some(OutcomeKind::Written));
    let oral_all = count(&|r| r.outcome_kind == Some(OutcomeKind::Oral));

    let mut by_category: BTreeMap<Category, u64> = BTreeMap::new();
    let mut by_village: BTreeMap<(String, Uuid), u64> = BTreeMap::new();
    let mut by_month: BTreeMap<String, u64> = BTreeMap::new();
    let mut days_total = 0.0;
    let mut with_outcome = 0u64;
    let month_ago = now.as_datetime() - chrono::Duration::days(30);
    let mut open_over_one_month = 0;
    for row in rows {
        *by_category.entry(row.category).or_default() += 1;
        *by_village.entry((row.village_name.clone(), row.village_id)).or_default() += 1;
        *by_month.entry(local_date(row.registered_at).format("%Y-%m").to_string()).or_default() += 1;
        if let Some(outcome_at) = row.outcome_at {
            days_total += (outcome_at.millis() - row.registered_at.millis()) as f64 / 86_400_000.0;
            with_outcome += 1;
        }
        if row.state.is_open() && row.registered_at.as_datetime() < month_ago {
            open_over_one_month += 1;
        }
    }

    Statistics {
        from,
        to,
        cases_registered: rows.len() as u64,
        mediated_successfully: written + oral_all,
        written_agreements: written,
        oral_agreements: oral_all,
        oral_in_person: oral(Channel::InPerson),
        oral_phone: oral(Channel::Phone),
        oral_video: oral(Channel::Video),
        failed: count(&|r| r.outcome_kind == Some(OutcomeKind::Failed)),
        referred: count(&|r| r.outcome_kind == Some(OutcomeKind::Referred)),
        withdrawn: count(&|r| r.outcome_kind == Some(OutcomeKind::Withdrawn)),
        pending: count(&|r| r.state.is_open()),
        cases_with_video_session: count(&|r| r.has_video),
        legal_consultations: consultations,
        by_category: by_category.into_iter().map(|(key, count)| Count { key: key.to_string(), count }).collect(),
        by_village: by_village
            .into_iter()
            .map(|((village_name, village_id), count)| VillageCount { village_id, village_name, count })
            .collect(),
        by_month: by_month.into_iter().map(|(key, count)| Count { key, count }).collect(),
        average_days_to_outcome: (with_outcome > 0).then(|| (days_total / with_outcome as f64 * 10.0).round() / 10.0),
        open_over_one_month,
    }
}

/// A cell a spreadsheet would run as a formula (a leading =, +, -, @ or
/// tab: village names are typed by people) is made text with a quote.
fn defused(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t']) { format!("'{text}") } else { text.to_owned() }
}

/// One CSV row: metric, key, name, value.
type CsvRow = [String; 4];

/// The same figures as CSV: `metric,key,name,value`, one row per figure.
/// `key` tells the rows of one metric apart (a category, a village's id, a
/// month); `name` is a village's name (two villages may share one).
pub fn to_csv(stats: &Statistics) -> String {
    let mut rows: Vec<CsvRow> = Vec::new();
    let mut scalar = |metric: &str, value: String| rows.push([metric.to_owned(), String::new(), String::new(), value]);
    scalar("from", stats.from.map(|d| d.to_string()).unwrap_or_default());
    scalar("to", stats.to.map(|d| d.to_string()).unwrap_or_default());
    for (metric, value) in [
        ("cases_registered", stats.cases_registered),
        ("mediated_successfully", stats.mediated_successfully),
        ("written_agreements", stats.written_agreements),
        ("oral_agreements", stats.oral_agreements),
        ("oral_in_person", stats.oral_in_person),
        ("oral_phone", stats.oral_phone),
        ("oral_video", stats.oral_video),
        ("failed", stats.failed),
        ("referred", stats.referred),
        ("withdrawn", stats.withdrawn),
        ("pending", stats.pending),
        ("cases_with_video_session", stats.cases_with_video_session),
        ("legal_consultations", stats.legal_consultations),
        ("open_over_one_month", stats.open_over_one_month),
    ] {
        scalar(metric, value.to_string());
    }
    scalar("average_days_to_outcome", stats.average_days_to_outcome.map(|d| d.to_string()).unwrap_or_default());
    for Count { key, count } in &stats.by_category {
        rows.push(["by_category".into(), key.clone(), String::new(), count.to_string()]);
    }
    for village in &stats.by_village {
        let (id, name) = (village.village_id.to_string(), village.village_name.clone());
        rows.push(["by_village".into(), id, name, village.count.to_string()]);
    }
    for Count { key, count } in &stats.by_month {
        rows.push(["by_month".into(), key.clone(), String::new(), count.to_string()]);
    }
    write_rows(rows)
}

/// Rows as CSV with a header; the csv crate quotes commas, quotes and line
/// breaks, `defused` keeps formulas out.
fn write_rows(rows: Vec<CsvRow>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = ["metric", "key", "name", "value"].map(String::from);
    for row in std::iter::once(header).chain(rows) {
        writer.write_record(row.iter().map(|cell| defused(cell))).expect("writing to memory");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("the cells are UTF-8")
}

/// One case as the statistics see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatsRow {
    pub village_id: Uuid,
    pub village_name: String,
    pub category: super::Category,
    pub state: CaseState,
    pub registered_at: Timestamp,
    pub outcome_kind: Option<super::OutcomeKind>,
    pub reached_via: Option<super::Channel>,
    pub outcome_at: Option<Timestamp>,
    pub has_video: bool,
}

#[cfg(test)]
mod tests {
    use super::write_rows;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let row = |name: &str| ["by_village".to_owned(), "id".to_owned(), name.to_owned(), "1".to_owned()];
        let csv = write_rows(vec![row("东平,村"), row("=HYPERLINK(\"x\")"), row("-1+2"), row("后孙村")]);
        assert_eq!(
            csv,
            "metric,key,name,value\nby_village,id,\"东平,村\",1\nby_village,id,\"'=HYPERLINK(\"\"x\"\")\",1\n\
             by_village,id,'-1+2,1\nby_village,id,后孙村,1\n"
        );
    }
}
