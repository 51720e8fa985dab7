//! Checks shared by the simulator's unit tests.

use std::fmt::{Debug, Display};

/// Checks case `index` of a parameter-validation table: `result` must be valid when
/// `expected` is `None`, and otherwise hold a problem that names `expected` (the field).
pub(crate) fn assert_validation(
    index: usize,
    result: Result<(), Vec<String>>,
    expected: Option<&str>,
) {
    match (result, expected) {
        (Ok(()), None) => {}
        (Err(problems), Some(needle)) => assert!(
            problems.iter().any(|p| p.contains(needle)),
            "TC{index}: {problems:?} lacks {needle}"
        ),
        (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
    }
}

/// Checks case `index` of a parsing table: `actual` must be the `expected` value, or an error
/// whose message contains the `expected` needle.
pub(crate) fn assert_outcome<T: PartialEq + Debug, E: Display + Debug>(
    index: usize,
    actual: Result<T, E>,
    expected: Result<T, &str>,
) {
    match (actual, expected) {
        (Ok(actual), Ok(expected)) => assert_eq!(actual, expected, "TC{index}"),
        (Err(err), Err(needle)) => {
            assert!(
                err.to_string().contains(needle),
                "TC{index}: {err} lacks {needle}"
            )
        }
        (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
    }
}
