//! Checks shared by the simulator's unit tests.

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
