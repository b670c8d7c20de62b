//! Choosing how many bits of the HMAC an index keeps.
//!
//! A blind index that keeps all 256 bits is as good as the value for an attacker who can guess
//! candidates and query the database: each value maps to exactly one index. Truncating makes
//! many values share an index value, so a stolen index only narrows a value down to a crowd —
//! at the price of false matches in a lookup, which the host removes by decrypting.
//!
//! For a column of `N` distinct values and an index of `b` bits (values spread uniformly):
//! - a lookup returns on average `(N − 1) / 2^b` rows that do not match (false matches);
//! - a given index value is shared by on average `1 + (N − 1) / 2^b` of the column's values
//!   (the crowd an attacker is left with).
//!
//! Both come from the same quantity, so they pull in opposite directions; the planner takes the
//! bounds a host sets for each and picks the largest `b` that still leaves the crowd it asks for.

use super::BlindIndexError;

/// A planned truncation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct IndexPlan {
    /// Bits to keep (1 to 256).
    pub bits: u32,
    /// Expected rows per lookup that do not match.
    pub expected_false_matches: f64,
    /// Expected number of distinct values sharing one index value.
    pub expected_crowd: f64,
}

/// Plans the bits for a column of `population` distinct values so that a lookup returns at most
/// `max_false_matches` non-matching rows on average, and each index value is shared by at least
/// `min_crowd` values on average.
///
/// ```
/// use biv_confidentiality::blind_index::plan_bits;
/// // One million patients; at most 50 extra rows per lookup; a crowd of at least 4.
/// let plan = plan_bits(1_000_000, 50.0, 4.0)?;
/// assert_eq!(plan.bits, 18);
/// assert!(plan.expected_false_matches <= 50.0 && plan.expected_crowd >= 4.0);
/// # Ok::<(), biv_confidentiality::blind_index::BlindIndexError>(())
/// ```
///
/// # Errors
/// [`BlindIndexError::Unplannable`] when no number of bits meets both bounds (or the arguments
/// are out of range).
pub fn plan_bits(
    population: u64,
    max_false_matches: f64,
    min_crowd: f64,
) -> Result<IndexPlan, BlindIndexError> {
    let unplannable = |reason: String| BlindIndexError::Unplannable { reason };
    let bounds_ok = max_false_matches.is_finite()
        && max_false_matches > 0.0
        && min_crowd.is_finite()
        && min_crowd >= 1.0;
    if population < 2 || !bounds_ok {
        return Err(unplannable(
            "population ≥ 2, max_false_matches > 0 and min_crowd ≥ 1 are required".into(),
        ));
    }
    let others = (population - 1) as f64;
    let plan = |bits: u32| {
        let per_value = others / 2f64.powi(bits as i32);
        IndexPlan {
            bits,
            expected_false_matches: per_value,
            expected_crowd: 1.0 + per_value,
        }
    };
    (1..=256u32)
        .rev()
        .map(plan)
        .find(|p| p.expected_crowd >= min_crowd)
        .filter(|p| p.expected_false_matches <= max_false_matches)
        .ok_or_else(|| {
            unplannable(format!(
                "no truncation gives a crowd of {min_crowd} with at most {max_false_matches} false matches among {population} values"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_met_and_conflicts_reported() {
        let p = plan_bits(1_000_000, 50.0, 4.0).unwrap();
        // 2^18 = 262,144: crowd ≈ 4.8, false matches ≈ 3.8; 19 bits would give a crowd < 4.
        assert_eq!(p.bits, 18);
        assert!((p.expected_crowd - (1.0 + 999_999.0 / 262_144.0)).abs() < 1e-9);
        assert!(
            plan_bits(1_000_000, 1.0, 100.0).is_err(),
            "a big crowd and few false matches conflict"
        );
        assert!(plan_bits(1, 1.0, 1.0).is_err());
        assert!(plan_bits(100, f64::NAN, 1.0).is_err());
        // A crowd of 1 asks for nothing: all 256 bits.
        assert_eq!(plan_bits(10, 1.0, 1.0).unwrap().bits, 256);
    }
}
