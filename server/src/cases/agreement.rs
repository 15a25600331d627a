//! The written mediation agreement as text: one canonical rendering of its
//! parts, so that every party confirms, and the hash covers, exactly the
//! same words.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::error::RuleError;
use super::{Agreement, Case, Party, PartySide};

/// The parts of an agreement the mediator writes.
#[derive(Debug, Clone)]
pub struct AgreementParts<'a> {
    pub facts: &'a str,
    pub responsibilities: &'a str,
    pub terms: &'a str,
    pub performance_manner: &'a str,
    pub performance_deadline: NaiveDate,
}

fn side_label(side: PartySide) -> &'static str {
    match side {
        PartySide::Applicant => "申请人",
        PartySide::Respondent => "被申请人",
        PartySide::ThirdParty => "第三人",
    }
}

/// The full text of the agreement document (调解协议书), as confirmed.
/// Parties appear with their masked ID numbers: the text is shown to every
/// party and must not spread the others' full numbers.
pub fn render(case: &Case, parties: &[Party], parts: &AgreementParts<'_>) -> String {
    let mut text = String::new();
    text.push_str("人民调解协议书\n");
    text.push_str(&format!("{}  {}\n\n", case.office_name, case.case_number));
    text.push_str("当事人：\n");
    for party in parties {
        text.push_str(&format!("{}：{}", side_label(party.side), party.name));
        if let Some(masked) = &party.id_number_masked {
            text.push_str(&format!("，身份证号 {masked}"));
        }
        if let Some(phone) = &party.phone {
            text.push_str(&format!("，电话 {phone}"));
        }
        text.push('\n');
    }
    text.push_str(&format!("\n一、纠纷主要事实及争议事项：\n{}\n", parts.facts.trim()));
    text.push_str(&format!("\n二、各方责任：\n{}\n", parts.responsibilities.trim()));
    text.push_str(&format!("\n三、达成的协议内容：\n{}\n", parts.terms.trim()));
    text.push_str(&format!(
        "\n四、履行方式及期限：\n{}\n履行期限：{} 前\n",
        parts.performance_manner.trim(),
        parts.performance_deadline.format("%Y年%m月%d日")
    ));
    text.push_str("\n本协议经各方当事人签字（或按指印）、调解员签字并加盖人民调解委员会印章后生效。\n");
    text
}

/// Lower-case hex SHA-256 of the text's UTF-8 bytes.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl<'a> AgreementParts<'a> {
    /// The parts of a saved agreement.
    pub fn of(agreement: &'a Agreement) -> Self {
        AgreementParts {
            facts: &agreement.facts,
            responsibilities: &agreement.responsibilities,
            terms: &agreement.terms,
            performance_manner: &agreement.performance_manner,
            performance_deadline: agreement.performance_deadline,
        }
    }
}

/// The saved agreement's text rendered from the case and its parties as they
/// stand now; refused as stale when it no longer matches the saved hash (a
/// party or the case was corrected after the agreement was saved). Showing
/// the agreement in the room and every confirmation, REST or room, ask this.
pub fn current_text(case: &Case, parties: &[Party], agreement: &Agreement) -> Result<String, RuleError> {
    let text = render(case, parties, &AgreementParts::of(agreement));
    if sha256_hex(&text) != agreement.text_sha256 {
        return Err(RuleError::Stale(
            "the case's details changed since the agreement was saved; save it again before it is shown or confirmed"
                .into(),
        ));
    }
    Ok(text)
}
