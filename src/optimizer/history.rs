//! The return history the optimizer estimates from: daily simple returns per service.
//!
//! The venue adapter builds it from `GET /returns` (`ReturnsResponse::to_history`), resolving
//! the wire's service names once; from here on a series is keyed by [`Service`], and the
//! solved weights come back aligned with [`ReturnHistory::table`]'s services, so no name is
//! parsed twice.
//!
//! # Invariants
//! - Keys are services: a name that is not a service never gets this far.
//! - The table's columns are in service-name order (`casino`, `domains`, `escrow`, `reserve`,
//!   `trading`, `wallet`), the order the venue's JSON object has always given the solvers, so
//!   the numbers they produce do not depend on how the history was built.
//! - Lengths and values are checked when the table is built, not here: an empty or ragged
//!   history is a [`MathError`] naming the series.

use std::collections::BTreeMap;

use crate::{
    math::{MathError, returns::ReturnsTable},
    service::Service,
};

/// Daily simple returns per service, oldest first. A service may be absent; the optimizer
/// refuses a history that lacks one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReturnHistory {
    /// The series of each service present.
    pub series_by_service: BTreeMap<Service, Vec<f64>>,
}

impl ReturnHistory {
    /// The services present, in the table's column order (by name; see the module docs).
    pub fn services(&self) -> Vec<Service> {
        let mut services: Vec<Service> = self.series_by_service.keys().copied().collect();
        services.sort_by_key(|service| service.name());
        services
    }

    /// The returns table, one column per service in the order of [`ReturnHistory::services`],
    /// each named by its service.
    ///
    /// # Errors
    /// As [`ReturnsTable::from_columns`]: unequal lengths, fewer than two days, no service, a
    /// non-finite value.
    pub fn table(&self) -> Result<(Vec<Service>, ReturnsTable), MathError> {
        let services = self.services();
        let table = ReturnsTable::from_columns(
            services
                .iter()
                .map(|service| (service.name(), self.series_by_service[service].as_slice())),
        )?;
        Ok((services, table))
    }
}

impl FromIterator<(Service, Vec<f64>)> for ReturnHistory {
    fn from_iter<I: IntoIterator<Item = (Service, Vec<f64>)>>(iter: I) -> Self {
        ReturnHistory {
            series_by_service: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_in_name_order_and_errors_name_the_series() {
        struct TestCase {
            history: ReturnHistory,
            expected: Result<Vec<&'static str>, &'static str>,
        }
        let cases = [
            // TC0: columns by name, whatever the canonical order says.
            TestCase {
                history: [
                    (Service::Trading, vec![0.01, 0.02]),
                    (Service::Casino, vec![-0.01, 0.0]),
                    (Service::Reserve, vec![0.0, 0.0]),
                ]
                .into_iter()
                .collect(),
                expected: Ok(vec!["casino", "reserve", "trading"]),
            },
            // TC1: a series shorter than the first is named.
            TestCase {
                history: [
                    (Service::Casino, vec![0.01, 0.02]),
                    (Service::Wallet, vec![0.01]),
                ]
                .into_iter()
                .collect(),
                expected: Err("wallet"),
            },
            // TC2: nothing at all.
            TestCase {
                history: ReturnHistory::default(),
                expected: Err("no assets"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (case.history.table(), &case.expected) {
                (Ok((services, table)), Ok(names)) => {
                    assert_eq!(table.names(), names.as_slice(), "TC{i}");
                    let service_names: Vec<&str> = services.iter().map(|s| s.name()).collect();
                    assert_eq!(&service_names, names, "TC{i}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
