//! Why the ledger refuses an operation.
//!
//! Each refusal names the request field at fault and has a stable [`StateError::code`];
//! the HTTP layer ([`crate::sim::http`]) picks the status the venue answers with.
//!
//! # Invariants
//! - A refused operation changes nothing (the ledger applies operations on a copy).

use rust_decimal::Decimal;

use crate::{
    service::Service,
    sim::markets::{Asset, UnknownSymbol},
};

/// Why the ledger refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A field is out of range (`bad_request`).
    #[error("`{field}` {reason}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol the venue does not list (`unknown_asset` / `unknown_market`).
    #[error(transparent)]
    Unknown(#[from] UnknownSymbol),
    /// A service holds less than the operation takes (`insufficient_balance`).
    #[error(
        "insufficient balance: {service} holds {available_usdc} USDC, the request needs {requested_usdc} USDC"
    )]
    InsufficientBalance {
        /// The service that would go negative (`reserve` for an increase).
        service: Service,
        /// What the operation takes.
        requested_usdc: Decimal,
        /// What the service holds.
        available_usdc: Decimal,
    },
    /// An order or a buy costs more cash than its service holds (`insufficient_balance`),
    /// naming the request field that sized it.
    #[error(
        "`{field}`: insufficient balance: the request needs {requested_usdc} USDC ({detail}) but the {service} balance holds {available_usdc} USDC"
    )]
    InsufficientFunds {
        /// The request field that sized the cost (`notional_usdc`, `quantity`).
        field: &'static str,
        /// The service paying.
        service: Service,
        /// What it would cost.
        requested_usdc: Decimal,
        /// The service's cash.
        available_usdc: Decimal,
        /// What the cost is made of.
        detail: String,
    },
    /// A sale of more units than the wallet's lots hold (`insufficient_holdings`).
    #[error("`quantity`: selling {requested} {asset} but the wallet holds {available}")]
    InsufficientHoldings {
        /// The asset.
        asset: Asset,
        /// Units asked for.
        requested: Decimal,
        /// Units held.
        available: Decimal,
    },
    /// No open position or resting order has this id (`position_not_found`).
    #[error("`id`: no open position `{position_id}`")]
    PositionNotFound {
        /// The id asked for.
        position_id: String,
    },
    /// A decrease takes more than the part of a service the venue lets move now
    /// (`funds_locked`).
    #[error(
        "`amount_usdc`: {requested_usdc} USDC is more than {service} may withdraw now: {free_usdc} USDC free, {locked_usdc} USDC locked until {until}"
    )]
    FundsLocked {
        /// The service.
        service: Service,
        /// What the decrease asked for.
        requested_usdc: Decimal,
        /// What may move now.
        free_usdc: Decimal,
        /// What is locked.
        locked_usdc: Decimal,
        /// When the next lock on it is released (RFC 3339).
        until: String,
    },
}

impl StateError {
    /// The stable code of the refusal, which the venue's error body carries.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Invalid { .. } => "bad_request",
            StateError::Unknown(unknown) => unknown.code,
            StateError::InsufficientBalance { .. } | StateError::InsufficientFunds { .. } => {
                "insufficient_balance"
            }
            StateError::InsufficientHoldings { .. } => "insufficient_holdings",
            StateError::PositionNotFound { .. } => "position_not_found",
            StateError::FundsLocked { .. } => "funds_locked",
        }
    }
}

/// A [`StateError::Invalid`] for `field`.
pub fn invalid(field: &'static str, reason: &str) -> StateError {
    StateError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}
