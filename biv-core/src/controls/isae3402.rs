//! Control objectives for ISAE 3402 service-organisation reports.
//!
//! ISAE 3402 prescribes how a service auditor reports, not which controls a service
//! organisation has: each organisation states its own control objectives. These identifiers are
//! biv's set of IT general control objectives, the ones its evidence supports, for a service
//! organisation to adopt or map its own objectives onto.

pub(super) const OBJECTIVES: &[(&str, &str)] = &[
    (
        "CO-ACC",
        "Logical access to systems and data is restricted to authorised users",
    ),
    (
        "CO-CHG",
        "Changes are authorised, reviewed, tested and approved before production",
    ),
    (
        "CO-DEV",
        "Development, test, acceptance and production are separated",
    ),
    (
        "CO-LOG",
        "Security-relevant events are logged, protected and reviewed",
    ),
    (
        "CO-MON",
        "Systems are monitored and deviations are acted on",
    ),
    ("CO-INC", "Incidents are detected, reported and resolved"),
    ("CO-AVL", "Availability commitments are measured and met"),
    ("CO-BCK", "Data is backed up and can be restored"),
    (
        "CO-CRY",
        "Confidential data is encrypted and keys are managed",
    ),
    (
        "CO-CFG",
        "System configuration is under version control and drift is detected",
    ),
];
