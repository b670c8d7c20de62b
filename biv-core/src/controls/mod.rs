//! Control identifiers of the frameworks biv produces evidence for: ISO/IEC 27001:2022
//! Annex A, NEN 7510, ISO 9001 and ISAE 3402.
//!
//! Only numbers and short titles are included, never the standards' text (which is copyrighted).

mod isae3402;
mod iso27001;
mod iso9001;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A framework whose controls biv evidence maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Framework {
    /// ISO/IEC 27001:2022 Annex A (93 controls).
    Iso27001AnnexA,
    /// NEN 7510-2:2024, the Dutch health-care information security standard. It follows the
    /// numbering and titles of ISO/IEC 27002:2022 and adds health-specific guidance, so its
    /// control ids are those of Annex A.
    Nen7510,
    /// ISO 9001:2015 quality management, clauses 4–10.
    Iso9001,
    /// ISAE 3402 assurance reports: biv's IT general control objectives.
    Isae3402,
}

impl Framework {
    /// Every framework.
    pub const ALL: [Framework; 4] = [
        Framework::Iso27001AnnexA,
        Framework::Nen7510,
        Framework::Iso9001,
        Framework::Isae3402,
    ];

    /// The short prefix used in [`ControlId`]'s text form.
    pub fn prefix(&self) -> &'static str {
        match self {
            Framework::Iso27001AnnexA => "iso27001",
            Framework::Nen7510 => "nen7510",
            Framework::Iso9001 => "iso9001",
            Framework::Isae3402 => "isae3402",
        }
    }

    /// The framework's full name and edition.
    pub fn title(&self) -> &'static str {
        match self {
            Framework::Iso27001AnnexA => "ISO/IEC 27001:2022 Annex A",
            Framework::Nen7510 => "NEN 7510-2:2024",
            Framework::Iso9001 => "ISO 9001:2015",
            Framework::Isae3402 => "ISAE 3402 (biv control objectives)",
        }
    }

    fn table(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Framework::Iso27001AnnexA | Framework::Nen7510 => iso27001::ANNEX_A,
            Framework::Iso9001 => iso9001::CLAUSES,
            Framework::Isae3402 => isae3402::OBJECTIVES,
        }
    }

    /// The framework's controls, in document order.
    ///
    /// ```
    /// use biv_core::Framework;
    /// assert_eq!(Framework::Iso27001AnnexA.controls().count(), 93);
    /// ```
    pub fn controls(&self) -> impl Iterator<Item = Control> + '_ {
        self.table().iter().map(|&(id, title)| Control {
            id: ControlId {
                framework: *self,
                id,
            },
            title,
        })
    }

    /// Looks a control up by its number within this framework.
    pub fn control(&self, id: &str) -> Option<Control> {
        self.controls().find(|c| c.id.id == id)
    }
}

/// A control's identity: framework plus number, written `prefix:number`, e.g. `iso27001:8.15`.
///
/// ```
/// use biv_core::{ControlId, Framework};
/// let id: ControlId = "nen7510:8.15".parse()?;
/// assert_eq!(id.framework(), Framework::Nen7510);
/// assert_eq!(id.control().title, "Logging");
/// assert!("iso27001:9.99".parse::<ControlId>().is_err());
/// # Ok::<(), biv_core::UnknownControl>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ControlId {
    framework: Framework,
    id: &'static str,
}

impl ControlId {
    /// The framework.
    pub fn framework(&self) -> Framework {
        self.framework
    }

    /// The number within the framework, e.g. `8.15`.
    pub fn number(&self) -> &'static str {
        self.id
    }

    /// The control with its title.
    pub fn control(&self) -> Control {
        let title = self
            .framework
            .table()
            .iter()
            .find(|(i, _)| *i == self.id)
            .map_or("", |(_, t)| t);
        Control { id: *self, title }
    }
}

/// A control id that is not in biv's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown control {0:?}; expected prefix:number such as iso27001:8.15")]
pub struct UnknownControl(pub String);

impl std::str::FromStr for ControlId {
    type Err = UnknownControl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (prefix, number) = s
            .split_once(':')
            .ok_or_else(|| UnknownControl(s.to_owned()))?;
        Framework::ALL
            .iter()
            .find(|f| f.prefix() == prefix)
            .and_then(|f| f.control(number))
            .map(|c| c.id)
            .ok_or_else(|| UnknownControl(s.to_owned()))
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.framework.prefix(), self.id)
    }
}

impl Serialize for ControlId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ControlId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A control: its id and short title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Control {
    /// The id.
    pub id: ControlId,
    /// The short title.
    pub title: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_are_complete_and_unique() {
        let counts = Framework::ALL.map(|f| f.controls().count());
        assert_eq!(counts, [93, 93, 29, 10]);
        let per_theme = ["5.", "6.", "7.", "8."].map(|p| {
            Framework::Iso27001AnnexA
                .controls()
                .filter(|c| c.id.number().starts_with(p))
                .count()
        });
        assert_eq!(per_theme, [37, 8, 14, 34]);
        for f in Framework::ALL {
            let mut ids: Vec<_> = f.controls().map(|c| c.id.number()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), f.controls().count(), "{f:?} has duplicate ids");
        }
    }

    #[test]
    fn text_form_round_trips() {
        for f in Framework::ALL {
            for c in f.controls() {
                let text = c.id.to_string();
                assert_eq!(text.parse::<ControlId>().unwrap(), c.id);
                let json = serde_json::to_string(&c.id).unwrap();
                assert_eq!(serde_json::from_str::<ControlId>(&json).unwrap(), c.id);
            }
        }
        assert!("iso27001".parse::<ControlId>().is_err());
        assert!("sox:404".parse::<ControlId>().is_err());
        assert_eq!(
            "iso9001:8.5.6"
                .parse::<ControlId>()
                .unwrap()
                .control()
                .title,
            "Control of changes"
        );
    }
}
