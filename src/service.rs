//! The six places an agent's capital can sit on the venue, a dense map keyed by them, and the
//! [`Direction`] of a transfer between one of them and the reserve.
//!
//! `Reserve` is the venue's `available_balance`: idle USDC that is the hub of every
//! transfer (a rebalance moves money between one service and the reserve). The order of
//! [`Service::ALL`] is the canonical order used in tables, reports and matrices.
//!
//! # Invariants
//! - `Service as usize` indexes [`ServiceMap`] and `Service::ALL` in the same order.
//! - Names are lowercase on the wire and in config (`casino`, ..., `reserve`; `increase`,
//!   `decrease`).
//! - The reserve is one side of every transfer ([`Direction::flow`]).

use std::{fmt, ops, str::FromStr};

use serde::{Deserialize, Serialize};

/// A venue service that holds part of the agent's capital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Casino bankroll.
    Casino,
    /// Perpetual-futures trading margin.
    Trading,
    /// Crypto wallet holdings, valued in USDC.
    Wallet,
    /// Domain names (rental income and appreciation).
    Domains,
    /// Escrow deposits (1% fee service).
    Escrow,
    /// Idle USDC: the venue's `available_balance`.
    Reserve,
}

impl Service {
    /// Every service, in canonical order.
    pub const ALL: [Service; 6] = [
        Service::Casino,
        Service::Trading,
        Service::Wallet,
        Service::Domains,
        Service::Escrow,
        Service::Reserve,
    ];

    /// The services that a rebalance transfer can target (all but the reserve hub).
    pub const TRADABLE: [Service; 5] = [
        Service::Casino,
        Service::Trading,
        Service::Wallet,
        Service::Domains,
        Service::Escrow,
    ];

    /// The lowercase name used on the wire and in config.
    pub const fn name(self) -> &'static str {
        match self {
            Service::Casino => "casino",
            Service::Trading => "trading",
            Service::Wallet => "wallet",
            Service::Domains => "domains",
            Service::Escrow => "escrow",
            Service::Reserve => "reserve",
        }
    }

    /// The portfolio field that carries this service's balance on the venue's REST API.
    pub const fn balance_field(self) -> &'static str {
        match self {
            Service::Casino => "casino_balance",
            Service::Trading => "trading_balance",
            Service::Wallet => "wallet_balance",
            Service::Domains => "domains_balance",
            Service::Escrow => "escrow_balance",
            Service::Reserve => "available_balance",
        }
    }

    /// Position in [`Service::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a rebalance transfer moves money, seen from the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Move USDC from the reserve into the service.
    Increase,
    /// Move USDC from the service into the reserve.
    Decrease,
}

impl Direction {
    /// `(from, to)` of a transfer for `service`: the reserve is always the other side.
    pub const fn flow(self, service: Service) -> (Service, Service) {
        match self {
            Direction::Increase => (Service::Reserve, service),
            Direction::Decrease => (service, Service::Reserve),
        }
    }

    /// The lowercase name used on the wire, in the store and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
        }
    }
}

/// A name that is not one of the six services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown service `{0}` (expected one of casino, trading, wallet, domains, escrow, reserve)"
)]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Service::ALL
            .into_iter()
            .find(|service| service.name() == lower)
            .ok_or_else(|| UnknownService(s.to_owned()))
    }
}

/// A value for each of the six services, stored densely in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ServiceMap<T>(pub [T; 6]);

impl<T> ServiceMap<T> {
    /// Builds a map by calling `f` once per service, in canonical order.
    pub fn from_fn(mut f: impl FnMut(Service) -> T) -> Self {
        ServiceMap(Service::ALL.map(&mut f))
    }

    /// Iterates `(service, &value)` in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (Service, &T)> {
        Service::ALL.into_iter().zip(self.0.iter())
    }

    /// Iterates the values in canonical order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    /// Maps every value.
    pub fn map<U>(&self, mut f: impl FnMut(Service, &T) -> U) -> ServiceMap<U> {
        ServiceMap::from_fn(|service| f(service, &self.0[service.index()]))
    }
}

impl<T> ops::Index<Service> for ServiceMap<T> {
    type Output = T;

    fn index(&self, service: Service) -> &T {
        &self.0[service.index()]
    }
}

impl<T> ops::IndexMut<Service> for ServiceMap<T> {
    fn index_mut(&mut self, service: Service) -> &mut T {
        &mut self.0[service.index()]
    }
}

impl<T: Serialize> Serialize for ServiceMap<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(6))?;
        for (service, value) in self.iter() {
            map.serialize_entry(service.name(), value)?;
        }
        map.end()
    }
}

/// Reads the map [`Serialize`] writes: one entry per service, by name, every service present.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for ServiceMap<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut named = std::collections::BTreeMap::<Service, T>::deserialize(deserializer)?;
        let mut values = Vec::with_capacity(6);
        for service in Service::ALL {
            values.push(named.remove(&service).ok_or_else(|| {
                D::Error::custom(format!("missing service `{}`", service.name()))
            })?);
        }
        let array: [T; 6] = values
            .try_into()
            .map_err(|_| D::Error::custom("expected six services"))?;
        Ok(ServiceMap(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_round_trip_and_reject_unknown() {
        struct TestCase {
            input: &'static str,
            expected: Result<Service, ()>,
        }
        let cases = [
            // TC0: canonical lowercase name.
            TestCase {
                input: "casino",
                expected: Ok(Service::Casino),
            },
            // TC1: case and whitespace are forgiven in config and CLI input.
            TestCase {
                input: " Reserve ",
                expected: Ok(Service::Reserve),
            },
            // TC2: the venue's field name is not a service name.
            TestCase {
                input: "available_balance",
                expected: Err(()),
            },
            // TC3: empty.
            TestCase {
                input: "",
                expected: Err(()),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let actual = case.input.parse::<Service>().map_err(|_| ());
            assert_eq!(actual, case.expected, "TC{index} failed");
        }
        for service in Service::ALL {
            assert_eq!(service.name().parse::<Service>(), Ok(service));
            assert_eq!(Service::ALL[service.index()], service);
        }
    }
}
