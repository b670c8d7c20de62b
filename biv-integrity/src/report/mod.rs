//! Reports built from the audit log: the NEN 7513 patient access report.

mod html;
mod patient;

pub use patient::{AccessRow, PatientReport, PatientReportError};
