//! The simulated venue's books: a pure state machine over balances, positions, lots,
//! income and fees.
//!
//! Everything that moves money on the simulated venue is an [`Op`]; [`Ledger::apply`]
//! validates it, changes the books and returns the [`EventKind`] the venue announces for it
//! ([`Ledger::apply_all`] also returns what it set off: limit orders filled and positions
//! liquidated by a mark move or a funding payment). Nothing here does I/O, reads a clock or
//! draws a random number, so the same sequence of operations always gives the same books;
//! the HTTP layer and the models only build operations and hand them in.
//!
//! What a service is worth: every service holds USDC cash (its *balance* here, whole
//! cents). Two services also hold tracked assets on top of their cash:
//! - **trading**: perpetual positions ([`book::PerpPosition`]), worth their isolated margin
//!   plus unrealized PnL at the mark (a resting limit order is worth its reservation);
//! - **wallet**: FIFO tax lots of spot assets, worth quantity × mid price.
//!
//! A service's *value* ([`Ledger::values`]) is cash plus tracked assets; the portfolio
//! reports values (rounded down to the cent), and transfers, casino play and the other cash
//! operations move cash only. The background model's `MarkToMarket` of trading and wallet
//! stands for the agent's own activity outside this API and also moves cash.
//!
//! Beside the books the ledger keeps the day's performance: what each service earned or
//! lost today (excluding transfers, which are flows, not performance) and the money that
//! flowed into it, so that the day's simple return per service can be closed at midnight
//! ([`Ledger::close_day`]). Market operations book the change in the service's value, so
//! trading fees, funding and realized and unrealized PnL all reach `/returns`. Referral
//! income is paid into the reserve but booked as performance of the service whose referrals
//! earned it, so the reserve's return is zero.
//!
//! # Invariants
//! - Every cash balance is non-negative, in whole cents, after every operation; an
//!   operation that would break this is rejected and changes nothing.
//! - The accounting identity holds exactly in `Decimal` after every operation
//!   ([`Ledger::accounting`]):
//!   `Σ cash + Σ position values + Σ holdings values = initial funds + realized income +
//!   unrealized PnL − fees + out-of-band adjustments`, where realized income is referral +
//!   domains + escrow fees + casino net + mark-to-market + realized trading PnL + funding +
//!   realized wallet PnL.
//! - A transfer never creates or destroys money: it moves cash between one service and the
//!   reserve.
//! - Every open position is above its maintenance margin after every operation (a mark
//!   move or funding that takes it there liquidates it in the same operation).

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    book::{
        self, CloseStatus, ClosedPosition, Lot, PerpPosition, PositionStatus, QUANTITY_DP,
        ceil_cents, floor_cents, quantity_for,
    },
    markets::{Asset, AssetMap, MAX_FUNDING_RATE, MAX_PRICE_USDC, MarketParams, PerpMarket},
};
use crate::{
    money::{CENT_DP, decimal_to_f64, round_cents},
    service::{Service, ServiceMap},
    venue::protocol::{
        Direction, EventKind, OrderType, PositionSide, TradeSide, WalletLot, WireDecimal, wire,
    },
};

/// Decimal places reported for casino multipliers.
const MULTIPLIER_DP: u32 = 4;
/// The escrow service's fee on the deals it settles (the article's 1%).
pub const ESCROW_FEE_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Largest order notional or escrow deal accepted, USDC. With [`MAX_PRICE_USDC`], whole-cent
/// prices and [`MAX_QUANTITY`] it keeps every product of a quantity and a price within the
/// 28 significant digits `Decimal` holds exactly, so values and PnL are never rounded.
pub const MAX_NOTIONAL_USDC: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Largest wallet trade, in units.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Closed positions remembered so that a repeated close answers the same; oldest first out.
pub const CLOSED_POSITIONS_KEPT: usize = 10_000;
/// Longest `purpose` accepted.
const PURPOSE_MAX_LEN: usize = 200;

/// The order of an [`Op::OpenPosition`]; a struct of its own so the ledger's handler
/// takes it whole instead of repeating its eight fields as arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    /// The market.
    pub market: PerpMarket,
    /// Long or short.
    pub side: PositionSide,
    /// Notional, positive whole cents, at most [`MAX_NOTIONAL_USDC`].
    pub notional_usdc: Decimal,
    /// In `1..=max_leverage`.
    pub leverage: u32,
    /// Market or limit.
    pub order_type: OrderType,
    /// Required for limit orders, refused for market orders.
    pub limit_price: Option<Decimal>,
    /// Why; non-empty.
    pub purpose: String,
    /// When the order arrived.
    pub at: OffsetDateTime,
}

/// One thing that changes (or announces) the venue's books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A rebalance: USDC between a tradable service and the reserve.
    Transfer {
        /// The service (never the reserve).
        service: Service,
        /// Increase (reserve → service) or decrease (service → reserve).
        direction: Direction,
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// Casino bets paid out (net of their stakes).
    CasinoWin {
        /// Net amount won, positive, whole cents.
        amount_usdc: Decimal,
        /// Total staked on the bets, whole cents.
        stake_usdc: Decimal,
        /// Payout as a multiple of the stake (2 for an even-money win).
        multiplier: Decimal,
    },
    /// Casino bets lost.
    CasinoLoss {
        /// Amount lost, positive, whole cents, at most the casino balance.
        amount_usdc: Decimal,
    },
    /// Referral income credited to the reserve.
    ReferralIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
        /// The service whose referrals earned it (never the reserve).
        source_service: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// The escrow service settled deals and earned [`ESCROW_FEE_RATE`] of their volume.
    EscrowFee {
        /// Volume settled, positive, whole cents, at most [`MAX_NOTIONAL_USDC`].
        deal_usdc: Decimal,
    },
    /// A change in the cash value of a service's untracked activity, less fees paid on it.
    MarkToMarket {
        /// The service (never the reserve).
        service: Service,
        /// Signed change in value before fees, whole cents.
        pnl_usdc: Decimal,
        /// Fees paid, non-negative, whole cents.
        fee_usdc: Decimal,
    },
    /// A fall in a service's cash by a fraction of it.
    Drawdown {
        /// The service (never the reserve).
        service: Service,
        /// Fraction lost, in (0, 1].
        drawdown: Decimal,
    },
    /// Cash balances set out of band (an operator's correction, a deposit or withdrawal);
    /// positions and lots are untouched.
    SetBalances {
        /// The new cash of every service, non-negative, whole cents.
        balances_usdc: ServiceMap<Decimal>,
    },
    /// An order for a perpetual position: a market order fills at the mark (taker fee); a
    /// limit order fills at the mark when its limit is already reached, or rests until a
    /// mark move reaches it (maker fee either way: the simulator has no book to take from).
    OpenPosition(OpenOrder),
    /// Closes an open position at the mark (taker fee), or cancels a resting limit order.
    ClosePosition {
        /// The position.
        position_id: String,
        /// When.
        at: OffsetDateTime,
    },
    /// New mark (index) prices: revalues positions and lots, fills limit orders the price
    /// reached, liquidates positions at their maintenance margin. Announced as `price`.
    MarkMove {
        /// Every asset's price, positive, whole cents, at most [`MAX_PRICE_USDC`].
        prices: AssetMap<Decimal>,
        /// When.
        at: OffsetDateTime,
    },
    /// A funding payment on every open position at its mark: with a positive rate longs pay
    /// shorts `quantity × mark × rate`, from and into the positions' isolated margin.
    Funding {
        /// Rate per market, within ±[`MAX_FUNDING_RATE`]; a market left out pays nothing.
        rates: BTreeMap<PerpMarket, Decimal>,
        /// When.
        at: OffsetDateTime,
    },
    /// The wallet buys at `mid × (1 + half spread)` from its cash, opening a lot.
    WalletBuy {
        /// The asset.
        asset: Asset,
        /// Units, positive, at most [`QUANTITY_DP`] places and [`MAX_QUANTITY`].
        quantity: Decimal,
        /// When (the lot's acquisition time).
        at: OffsetDateTime,
    },
    /// The wallet sells at `mid × (1 − half spread)` into its cash, from its oldest lots.
    WalletSell {
        /// The asset.
        asset: Asset,
        /// Units, as for a buy, at most what the lots hold.
        quantity: Decimal,
        /// When.
        at: OffsetDateTime,
    },
}

/// Why the ledger refused an operation; the venue maps each to an HTTP status and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A field is out of range (HTTP 400 `bad_request`).
    #[error("`{field}` {reason}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol the venue does not list (HTTP 400 `unknown_asset` / `unknown_market`).
    #[error("`{field}`: unknown {} `{value}` (known: {known})", .code.trim_start_matches("unknown_"))]
    Unknown {
        /// The request field at fault.
        field: &'static str,
        /// `unknown_asset` or `unknown_market`.
        code: &'static str,
        /// What was sent.
        value: String,
        /// What the venue lists.
        known: String,
    },
    /// A service holds less than the operation takes (HTTP 409 `insufficient_balance`).
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
    /// An order or a buy costs more cash than its service holds (HTTP 409
    /// `insufficient_balance`), naming the request field that sized it.
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
    /// A sale of more units than the wallet's lots hold (HTTP 409 `insufficient_holdings`).
    #[error("`quantity`: selling {requested} {asset} but the wallet holds {available}")]
    InsufficientHoldings {
        /// The asset.
        asset: Asset,
        /// Units asked for.
        requested: Decimal,
        /// Units held.
        available: Decimal,
    },
    /// No open position or resting order has this id (HTTP 404 `position_not_found`).
    #[error("`id`: no open position `{position_id}`")]
    PositionNotFound {
        /// The id asked for.
        position_id: String,
    },
}

impl StateError {
    /// The stable error code for the venue's error body.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Invalid { .. } => "bad_request",
            StateError::Unknown { code, .. } => code,
            StateError::InsufficientBalance { .. } | StateError::InsufficientFunds { .. } => {
                "insufficient_balance"
            }
            StateError::InsufficientHoldings { .. } => "insufficient_holdings",
            StateError::PositionNotFound { .. } => "position_not_found",
        }
    }

    /// The HTTP status the venue answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            StateError::Invalid { .. } | StateError::Unknown { .. } => 400,
            StateError::InsufficientBalance { .. }
            | StateError::InsufficientFunds { .. }
            | StateError::InsufficientHoldings { .. } => 409,
            StateError::PositionNotFound { .. } => 404,
        }
    }
}

/// Cumulative realized income by kind since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeTotals {
    /// Referral income credited to the reserve.
    #[serde(with = "wire")]
    pub referral_usdc: Decimal,
    /// Domain rental income.
    #[serde(with = "wire")]
    pub domains_usdc: Decimal,
    /// Casino wins minus casino losses.
    #[serde(with = "wire")]
    pub casino_net_usdc: Decimal,
    /// Mark-to-market changes of untracked activity (including drawdowns), before fees.
    #[serde(with = "wire")]
    pub mark_to_market_usdc: Decimal,
    /// Fees the escrow service earned.
    #[serde(default, with = "wire")]
    pub escrow_fees_usdc: Decimal,
    /// Realized PnL of closed and liquidated positions, before closing fees.
    #[serde(default, with = "wire")]
    pub trading_realized_pnl_usdc: Decimal,
    /// Net funding received (negative when paid).
    #[serde(default, with = "wire")]
    pub funding_usdc: Decimal,
    /// Realized PnL of wallet sales (proceeds − basis of the lots used).
    #[serde(default, with = "wire")]
    pub wallet_realized_pnl_usdc: Decimal,
}

impl IncomeTotals {
    /// The sum of every kind.
    pub fn total_usdc(&self) -> Decimal {
        self.referral_usdc
            + self.domains_usdc
            + self.casino_net_usdc
            + self.mark_to_market_usdc
            + self.escrow_fees_usdc
            + self.trading_realized_pnl_usdc
            + self.funding_usdc
            + self.wallet_realized_pnl_usdc
    }
}

/// The result of checking the accounting identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingCheck {
    /// Whether `total_usdc == expected_usdc` exactly.
    pub ok: bool,
    /// Σ service values: cash + position values + holdings values.
    #[serde(with = "wire")]
    pub total_usdc: Decimal,
    /// Initial funds + realized income + unrealized PnL − fees + adjustments.
    #[serde(with = "wire")]
    pub expected_usdc: Decimal,
    /// Funds at the start.
    #[serde(with = "wire")]
    pub initial_funds_usdc: Decimal,
    /// Realized income by kind.
    pub income: IncomeTotals,
    /// Fees paid (trading fees included).
    #[serde(with = "wire")]
    pub fees_usdc: Decimal,
    /// Net out-of-band balance changes (`SetBalances`).
    #[serde(with = "wire")]
    pub adjustments_usdc: Decimal,
    /// Σ cash.
    #[serde(default, with = "wire")]
    pub cash_usdc: Decimal,
    /// Σ (margin + unrealized PnL) of open positions, plus resting orders' reservations.
    #[serde(default, with = "wire")]
    pub positions_value_usdc: Decimal,
    /// Σ quantity × mid of the wallet's lots.
    #[serde(default, with = "wire")]
    pub holdings_value_usdc: Decimal,
    /// Unrealized PnL of positions (at the mark) and lots (mid − basis).
    #[serde(default, with = "wire")]
    pub unrealized_pnl_usdc: Decimal,
    /// The part of `fees_usdc` paid on perp orders.
    #[serde(default, with = "wire")]
    pub trading_fees_usdc: Decimal,
}

/// What the markets did: `/sim/stats` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketStats {
    /// Orders accepted (filled at once or resting).
    pub orders_accepted: u64,
    /// Positions opened (immediate fills and resting orders filled later).
    pub positions_opened: u64,
    /// Resting limit orders filled by a mark move.
    pub limit_fills: u64,
    /// Positions closed by the agent.
    pub positions_closed: u64,
    /// Resting orders cancelled.
    pub orders_cancelled: u64,
    /// Positions liquidated.
    pub liquidations: u64,
    /// Open positions now.
    pub open_positions: u64,
    /// Resting orders now.
    pub pending_orders: u64,
    /// Funding settlements: one per open position per period, even when it rounds to zero.
    pub funding_payments: u64,
    /// Wallet buys.
    pub wallet_buys: u64,
    /// Wallet sales.
    pub wallet_sells: u64,
    /// Open lots now.
    pub open_lots: u64,
    /// What crossing the wallet's spread has cost against the mid.
    #[serde(with = "wire")]
    pub wallet_spread_usdc: Decimal,
    /// Escrow deals settled.
    pub escrow_deals: u64,
}

/// The day's performance book, for daily returns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DayBook {
    /// Service values when the day opened.
    start_usdc: ServiceMap<Decimal>,
    /// Performance (income, casino, markets, less fees) earned today.
    pnl_usdc: ServiceMap<Decimal>,
    /// Money that arrived today by transfer or out-of-band top-up.
    inflows_usdc: ServiceMap<Decimal>,
}

impl DayBook {
    fn open(values_usdc: ServiceMap<Decimal>) -> Self {
        DayBook {
            start_usdc: values_usdc,
            pnl_usdc: ServiceMap::default(),
            inflows_usdc: ServiceMap::default(),
        }
    }
}

/// The books of one agent on the simulated venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    balances_usdc: ServiceMap<Decimal>,
    initial_funds_usdc: Decimal,
    income: IncomeTotals,
    fees_usdc: Decimal,
    trading_fees_usdc: Decimal,
    adjustments_usdc: Decimal,
    next_transfer_id: u64,
    day: DayBook,
    params: MarketParams,
    prices: AssetMap<Decimal>,
    /// Open positions and resting orders by id (ids sort in creation order).
    positions: BTreeMap<String, PerpPosition>,
    /// Recently closed positions by id, bounded by [`CLOSED_POSITIONS_KEPT`].
    closed: BTreeMap<String, ClosedPosition>,
    lots: AssetMap<VecDeque<Lot>>,
    next_position_id: u64,
    next_trade_id: u64,
    next_lot_id: u64,
    stats: MarketStats,
    /// Events set off by the operation being applied (fills, liquidations).
    notices: Vec<EventKind>,
}

impl Ledger {
    /// Opens the books with these balances and the default market parameters.
    ///
    /// # Errors
    /// A negative balance, or one with fractions of a cent, naming the service.
    pub fn new(initial_balances_usdc: ServiceMap<Decimal>) -> Result<Self, StateError> {
        Self::with_markets(initial_balances_usdc, MarketParams::default())
    }

    /// Opens the books with these balances and market parameters; prices start at each
    /// asset's start price.
    ///
    /// # Errors
    /// A negative balance, or one with fractions of a cent, naming the service; invalid
    /// parameters, naming them.
    pub fn with_markets(
        initial_balances_usdc: ServiceMap<Decimal>,
        params: MarketParams,
    ) -> Result<Self, StateError> {
        for (service, value) in initial_balances_usdc.iter() {
            check_balance(service, *value)?;
        }
        params.validate().map_err(|problems| StateError::Invalid {
            field: "markets",
            reason: problems.join("; "),
        })?;
        let initial_funds_usdc = checked_sum(initial_balances_usdc.values())?;
        Ok(Ledger {
            balances_usdc: initial_balances_usdc,
            initial_funds_usdc,
            income: IncomeTotals::default(),
            fees_usdc: Decimal::ZERO,
            trading_fees_usdc: Decimal::ZERO,
            adjustments_usdc: Decimal::ZERO,
            next_transfer_id: 1,
            day: DayBook::open(initial_balances_usdc),
            params,
            prices: AssetMap::from_fn(Asset::start_price_usdc),
            positions: BTreeMap::new(),
            closed: BTreeMap::new(),
            lots: AssetMap::default(),
            next_position_id: 1,
            next_trade_id: 1,
            next_lot_id: 1,
            stats: MarketStats::default(),
            notices: Vec::new(),
        })
    }

    /// Cash per service: what transfers, casino play and income move.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        self.balances_usdc
    }

    /// Each service's value, exact: cash, plus positions for trading and lots at the mid
    /// for the wallet.
    pub fn values(&self) -> ServiceMap<Decimal> {
        let mut values = self.balances_usdc;
        // Bounded inputs (prices, quantities, notionals) keep these sums in range; a
        // saturated value would only show as a broken identity, never a panic.
        values[Service::Trading] = saturating_add(values[Service::Trading], self.positions_value());
        values[Service::Wallet] = saturating_add(values[Service::Wallet], self.holdings_value());
        values
    }

    /// Each service's value rounded down to the cent, as the portfolio reports it.
    pub fn reported_values(&self) -> ServiceMap<Decimal> {
        self.values().map(|_, value| round_cents(*value))
    }

    /// Income by kind since the start.
    pub fn income(&self) -> IncomeTotals {
        self.income
    }

    /// Current mark (index) prices.
    pub fn prices(&self) -> AssetMap<Decimal> {
        self.prices
    }

    /// The market parameters.
    pub fn params(&self) -> &MarketParams {
        &self.params
    }

    /// Open positions and resting orders, in creation order.
    pub fn positions(&self) -> impl Iterator<Item = &PerpPosition> {
        self.positions.values()
    }

    /// A recently closed position.
    pub fn closed_position(&self, position_id: &str) -> Option<&ClosedPosition> {
        self.closed.get(position_id)
    }

    /// The wallet's open lots of `asset`, oldest first.
    pub fn lots(&self, asset: Asset) -> &VecDeque<Lot> {
        &self.lots[asset]
    }

    /// What the markets did, with the open counts now.
    pub fn market_stats(&self) -> MarketStats {
        let pending = self
            .positions
            .values()
            .filter(|p| p.status == PositionStatus::Pending)
            .count();
        MarketStats {
            open_positions: (self.positions.len() - pending) as u64,
            pending_orders: pending as u64,
            open_lots: self.lots.0.iter().map(|lots| lots.len() as u64).sum(),
            ..self.stats.clone()
        }
    }

    /// Validates and applies one operation, returning the event that announces it.
    ///
    /// # Errors
    /// A [`StateError`] naming the field at fault; the ledger is then unchanged.
    pub fn apply(&mut self, op: &Op) -> Result<EventKind, StateError> {
        self.apply_all(op)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid("op", "announced nothing"))
    }

    /// Validates and applies one operation, returning the event that announces it followed
    /// by the events it set off (limit fills, liquidations), in order.
    ///
    /// # Errors
    /// A [`StateError`] naming the field at fault; the ledger is then unchanged.
    pub fn apply_all(&mut self, op: &Op) -> Result<Vec<EventKind>, StateError> {
        // Work on a copy so a failure half-way leaves nothing behind.
        let mut next = self.clone();
        let kind = next.apply_in_place(op)?;
        let mut kinds = Vec::with_capacity(1 + next.notices.len());
        kinds.push(kind);
        kinds.append(&mut next.notices);
        *self = next;
        Ok(kinds)
    }

    fn apply_in_place(&mut self, op: &Op) -> Result<EventKind, StateError> {
        match op {
            Op::OpenPosition(_)
            | Op::ClosePosition { .. }
            | Op::MarkMove { .. }
            | Op::Funding { .. }
            | Op::WalletBuy { .. }
            | Op::WalletSell { .. } => {
                // Market operations move nothing in or out of trading and the wallet, so
                // the whole change in their values is performance: fees, funding, realized
                // and unrealized PnL, the spread.
                let before = self.values();
                let kind = self.apply_market(op)?;
                let after = self.values();
                for service in [Service::Trading, Service::Wallet] {
                    self.book_pnl(service, sub(after[service], before[service])?)?;
                }
                Ok(kind)
            }
            _ => self.apply_cash(op),
        }
    }

    fn apply_cash(&mut self, op: &Op) -> Result<EventKind, StateError> {
        match op {
            Op::Transfer {
                service,
                direction,
                amount_usdc,
            } => {
                not_reserve(
                    "service",
                    *service,
                    Some("the reserve is the other side of every transfer"),
                )?;
                check_cents("amount_usdc", *amount_usdc)?;
                let (from, to) = direction.flow(*service);
                self.debit(from, *amount_usdc)?;
                self.credit(to, *amount_usdc)?;
                self.day.inflows_usdc[to] = add(self.day.inflows_usdc[to], *amount_usdc)?;
                let transfer_id = format!("tr-{:08}", self.next_transfer_id);
                self.next_transfer_id += 1;
                Ok(EventKind::Transfer {
                    transfer_id,
                    service: *service,
                    direction: *direction,
                    amount_usdc: *amount_usdc,
                })
            }
            Op::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => {
                check_cents("amount_usdc", *amount_usdc)?;
                check_cents("stake_usdc", *stake_usdc)?;
                if *multiplier <= Decimal::ONE {
                    return Err(invalid("multiplier", "must be above 1 for a win"));
                }
                self.credit(Service::Casino, *amount_usdc)?;
                self.income.casino_net_usdc = add(self.income.casino_net_usdc, *amount_usdc)?;
                self.book_pnl(Service::Casino, *amount_usdc)?;
                Ok(EventKind::CasinoWin {
                    amount_usdc: *amount_usdc,
                    stake_usdc: *stake_usdc,
                    multiplier: multiplier.round_dp(MULTIPLIER_DP),
                })
            }
            Op::CasinoLoss { amount_usdc } => {
                check_cents("amount_usdc", *amount_usdc)?;
                self.debit(Service::Casino, *amount_usdc)?;
                self.income.casino_net_usdc = sub(self.income.casino_net_usdc, *amount_usdc)?;
                self.book_pnl(Service::Casino, -*amount_usdc)?;
                Ok(EventKind::CasinoLoss {
                    amount_usdc: *amount_usdc,
                })
            }
            Op::ReferralIncome {
                amount_usdc,
                source_service,
            } => {
                check_cents("amount_usdc", *amount_usdc)?;
                not_reserve("source_service", *source_service, None)?;
                self.credit(Service::Reserve, *amount_usdc)?;
                self.income.referral_usdc = add(self.income.referral_usdc, *amount_usdc)?;
                // The cash lands in the reserve, but it is the source service's activity that
                // earned it: booking it there keeps the reserve's returns at zero (riskless),
                // as the optimizers assume.
                self.book_pnl(*source_service, *amount_usdc)?;
                Ok(EventKind::ReferralIncome {
                    amount_usdc: *amount_usdc,
                    source_service: *source_service,
                })
            }
            Op::DomainsIncome { amount_usdc } => {
                check_cents("amount_usdc", *amount_usdc)?;
                self.credit(Service::Domains, *amount_usdc)?;
                self.income.domains_usdc = add(self.income.domains_usdc, *amount_usdc)?;
                self.book_pnl(Service::Domains, *amount_usdc)?;
                Ok(EventKind::DomainsIncome {
                    amount_usdc: *amount_usdc,
                })
            }
            Op::EscrowFee { deal_usdc } => {
                check_cents("deal_usdc", *deal_usdc)?;
                if *deal_usdc > MAX_NOTIONAL_USDC {
                    return Err(invalid("deal_usdc", "is too large"));
                }
                let fee_usdc = round_cents(*deal_usdc * ESCROW_FEE_RATE);
                if fee_usdc.is_zero() {
                    return Err(invalid("deal_usdc", "earns less than a cent of fee"));
                }
                self.credit(Service::Escrow, fee_usdc)?;
                self.income.escrow_fees_usdc = add(self.income.escrow_fees_usdc, fee_usdc)?;
                self.book_pnl(Service::Escrow, fee_usdc)?;
                self.stats.escrow_deals += 1;
                Ok(EventKind::EscrowFee {
                    deal_usdc: *deal_usdc,
                    amount_usdc: fee_usdc,
                })
            }
            Op::MarkToMarket {
                service,
                pnl_usdc,
                fee_usdc,
            } => {
                not_reserve(
                    "service",
                    *service,
                    Some("idle USDC has no market value to mark"),
                )?;
                check_signed_cents("change_usdc", *pnl_usdc)?;
                if !fee_usdc.is_zero() {
                    check_cents("fee_usdc", *fee_usdc)?;
                }
                let change_usdc = sub(*pnl_usdc, *fee_usdc)?;
                self.change(*service, change_usdc)?;
                self.income.mark_to_market_usdc = add(self.income.mark_to_market_usdc, *pnl_usdc)?;
                self.fees_usdc = add(self.fees_usdc, *fee_usdc)?;
                self.book_pnl(*service, change_usdc)?;
                Ok(EventKind::MarkToMarket {
                    service: *service,
                    change_usdc,
                })
            }
            Op::Drawdown { service, drawdown } => {
                not_reserve("service", *service, None)?;
                if *drawdown <= Decimal::ZERO || *drawdown > Decimal::ONE {
                    return Err(invalid("drawdown", "must be in (0, 1]"));
                }
                let loss_usdc = round_cents(
                    self.balances_usdc[*service]
                        .checked_mul(*drawdown)
                        .ok_or_else(too_large)?,
                );
                self.change(*service, -loss_usdc)?;
                self.income.mark_to_market_usdc = sub(self.income.mark_to_market_usdc, loss_usdc)?;
                self.book_pnl(*service, -loss_usdc)?;
                Ok(EventKind::Drawdown {
                    service: *service,
                    drawdown: *drawdown,
                })
            }
            Op::SetBalances { balances_usdc } => {
                for (service, value) in balances_usdc.iter() {
                    check_balance(service, *value)?;
                }
                let old_total = checked_sum(self.balances_usdc.values())?;
                let new_total = checked_sum(balances_usdc.values())?;
                self.adjustments_usdc = add(self.adjustments_usdc, sub(new_total, old_total)?)?;
                for service in Service::ALL {
                    // A top-up is money arriving, like a transfer in: a flow, not performance.
                    let delta = sub(balances_usdc[service], self.balances_usdc[service])?;
                    if delta > Decimal::ZERO {
                        self.day.inflows_usdc[service] =
                            add(self.day.inflows_usdc[service], delta)?;
                    }
                }
                self.balances_usdc = *balances_usdc;
                Ok(EventKind::Balance)
            }
            // Routed to `apply_market` by `apply_in_place`.
            Op::OpenPosition(_)
            | Op::ClosePosition { .. }
            | Op::MarkMove { .. }
            | Op::Funding { .. }
            | Op::WalletBuy { .. }
            | Op::WalletSell { .. } => self.apply_market(op),
        }
    }

    fn apply_market(&mut self, op: &Op) -> Result<EventKind, StateError> {
        match op {
            Op::OpenPosition(order) => self.open_position(order),
            Op::ClosePosition { position_id, at } => self.close_position(position_id, *at),
            Op::MarkMove { prices, at } => {
                for (_, price) in prices.iter() {
                    check_price("prices", *price)?;
                }
                self.prices = *prices;
                self.fill_limit_orders()?;
                self.liquidate_underwater(*at)?;
                Ok(EventKind::Price {
                    prices: prices
                        .iter()
                        .map(|(asset, price)| (asset.symbol().to_owned(), WireDecimal(*price)))
                        .collect(),
                })
            }
            Op::Funding { rates, at } => self.pay_funding(rates, *at),
            Op::WalletBuy {
                asset,
                quantity,
                at,
            } => self.wallet_buy(*asset, *quantity, *at),
            Op::WalletSell {
                asset, quantity, ..
            } => self.wallet_sell(*asset, *quantity),
            _ => self.apply_cash(op),
        }
    }

    fn open_position(&mut self, order: &OpenOrder) -> Result<EventKind, StateError> {
        let OpenOrder {
            market,
            side,
            notional_usdc,
            leverage,
            order_type,
            limit_price,
            ref purpose,
            at,
        } = *order;
        check_cents("notional_usdc", notional_usdc)?;
        if notional_usdc > MAX_NOTIONAL_USDC {
            return Err(invalid(
                "notional_usdc",
                &format!("must be at most {MAX_NOTIONAL_USDC}"),
            ));
        }
        let max_leverage = self.params.max_leverage;
        if !(1..=max_leverage).contains(&leverage) {
            return Err(invalid(
                "leverage",
                &format!("{leverage} must be between 1 and {max_leverage}"),
            ));
        }
        if purpose.trim().is_empty() {
            return Err(invalid("purpose", "must not be empty"));
        }
        if purpose.len() > PURPOSE_MAX_LEN {
            return Err(invalid(
                "purpose",
                &format!("must be at most {PURPOSE_MAX_LEN} bytes"),
            ));
        }
        let mark = self.prices[market.underlying()];
        let (fill_price, fee_rate, resting) = match (order_type, limit_price) {
            (OrderType::Market, None) => (mark, self.params.taker_fee_rate, false),
            (OrderType::Market, Some(_)) => {
                return Err(invalid("limit_price", "only applies to limit orders"));
            }
            (OrderType::Limit, None) => {
                return Err(invalid("limit_price", "is required for a limit order"));
            }
            (OrderType::Limit, Some(limit)) => {
                check_price("limit_price", limit)?;
                let reached = match side {
                    PositionSide::Long => limit >= mark,
                    PositionSide::Short => limit <= mark,
                };
                // A limit the mark has already reached fills at the mark (the better
                // price); otherwise the order rests at its limit.
                if reached {
                    (mark, self.params.maker_fee_rate, false)
                } else {
                    (limit, self.params.maker_fee_rate, true)
                }
            }
        };
        let quantity = quantity_for(notional_usdc, fill_price);
        if quantity.is_zero() {
            return Err(invalid(
                "notional_usdc",
                "buys less than the smallest quantity (1e-8) of the underlying",
            ));
        }
        let margin_usdc = ceil_cents(notional_usdc / Decimal::from(leverage));
        let fee_usdc = ceil_cents(notional_usdc * fee_rate);
        let required_usdc = add(margin_usdc, fee_usdc)?;
        self.debit_for("notional_usdc", Service::Trading, required_usdc, || {
            format!("margin {margin_usdc} at {leverage}x + fee {fee_usdc}")
        })?;
        let number = self.next_position_id;
        self.next_position_id += 1;
        let mut position = PerpPosition {
            id: format!("pos-{number:08}"),
            order_id: format!("ord-{number:08}"),
            market,
            side,
            order_type,
            notional_usdc,
            leverage,
            quantity: Decimal::ZERO,
            entry_price: fill_price,
            limit_price,
            margin_usdc,
            reserved_fee_usdc: fee_usdc,
            fees_paid_usdc: Decimal::ZERO,
            funding_usdc: Decimal::ZERO,
            opened_at: at,
            purpose: purpose.trim().to_owned(),
            status: PositionStatus::Pending,
        };
        self.stats.orders_accepted += 1;
        let kind = if resting {
            EventKind::OrderPlaced {
                position_id: position.id.clone(),
                order_id: position.order_id.clone(),
                market: market.name().to_owned(),
                side,
                notional_usdc,
                leverage,
                limit_price: fill_price,
                reserved_usdc: required_usdc,
            }
        } else {
            self.fill(&mut position, fill_price)?
        };
        self.positions.insert(position.id.clone(), position);
        Ok(kind)
    }

    /// Fills a pending position at `price`: the reserved fee is paid, the margin stays.
    fn fill(
        &mut self,
        position: &mut PerpPosition,
        price: Decimal,
    ) -> Result<EventKind, StateError> {
        let fee_usdc = position.reserved_fee_usdc;
        position.status = PositionStatus::Open;
        position.entry_price = price;
        position.quantity = quantity_for(position.notional_usdc, price);
        position.reserved_fee_usdc = Decimal::ZERO;
        position.fees_paid_usdc = add(position.fees_paid_usdc, fee_usdc)?;
        self.fees_usdc = add(self.fees_usdc, fee_usdc)?;
        self.trading_fees_usdc = add(self.trading_fees_usdc, fee_usdc)?;
        self.stats.positions_opened += 1;
        Ok(EventKind::PositionOpened {
            position_id: position.id.clone(),
            order_id: position.order_id.clone(),
            market: position.market.name().to_owned(),
            side: position.side,
            notional_usdc: position.notional_usdc,
            leverage: position.leverage,
            fill_price: price,
            fee_usdc,
            margin_usdc: position.margin_usdc,
            quantity: position.quantity,
        })
    }

    fn close_position(
        &mut self,
        position_id: &str,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        let position =
            self.positions
                .remove(position_id)
                .ok_or_else(|| StateError::PositionNotFound {
                    position_id: position_id.to_owned(),
                })?;
        let closed = match position.status {
            PositionStatus::Pending => {
                let returned_usdc = add(position.margin_usdc, position.reserved_fee_usdc)?;
                self.credit(Service::Trading, returned_usdc)?;
                self.stats.orders_cancelled += 1;
                ClosedPosition {
                    position_id: position.id,
                    market: position.market,
                    status: CloseStatus::Cancelled,
                    close_price: None,
                    realized_pnl_usdc: Decimal::ZERO,
                    fee_usdc: Decimal::ZERO,
                    returned_usdc,
                    closed_at: at,
                }
            }
            PositionStatus::Open => {
                let mark = self.prices[position.market.underlying()];
                // Rounded down, and never below losing the whole margin: positions above
                // their maintenance margin cannot lose more, and the guard keeps the payout
                // non-negative whatever the rounding.
                let realized_pnl_usdc =
                    floor_cents(position.unrealized_pnl_usdc(mark)).max(-position.margin_usdc);
                let equity_usdc = add(position.margin_usdc, realized_pnl_usdc)?;
                let fee_usdc = ceil_cents(position.quantity * mark * self.params.taker_fee_rate)
                    .min(equity_usdc);
                let returned_usdc = sub(equity_usdc, fee_usdc)?;
                self.credit(Service::Trading, returned_usdc)?;
                self.fees_usdc = add(self.fees_usdc, fee_usdc)?;
                self.trading_fees_usdc = add(self.trading_fees_usdc, fee_usdc)?;
                self.income.trading_realized_pnl_usdc =
                    add(self.income.trading_realized_pnl_usdc, realized_pnl_usdc)?;
                self.stats.positions_closed += 1;
                ClosedPosition {
                    position_id: position.id,
                    market: position.market,
                    status: CloseStatus::Closed,
                    close_price: Some(mark),
                    realized_pnl_usdc,
                    fee_usdc,
                    returned_usdc,
                    closed_at: at,
                }
            }
        };
        let kind = closed_event(&closed);
        self.remember_closed(closed);
        Ok(kind)
    }

    fn remember_closed(&mut self, closed: ClosedPosition) {
        if self.closed.len() >= CLOSED_POSITIONS_KEPT {
            self.closed.pop_first();
        }
        self.closed.insert(closed.position_id.clone(), closed);
    }

    /// Fills every resting order whose limit the current mark has reached, at its limit.
    fn fill_limit_orders(&mut self) -> Result<(), StateError> {
        let reached: Vec<String> = self
            .positions
            .values()
            .filter(|p| p.limit_crossed(self.prices[p.market.underlying()]))
            .map(|p| p.id.clone())
            .collect();
        for id in reached {
            let Some(mut position) = self.positions.remove(&id) else {
                continue;
            };
            let limit = position.limit_price.unwrap_or(position.entry_price);
            let kind = self.fill(&mut position, limit)?;
            self.stats.limit_fills += 1;
            self.notices.push(kind);
            self.positions.insert(id, position);
        }
        Ok(())
    }

    /// Liquidates every open position at or below its maintenance margin: the venue takes
    /// the margin (what is left of it goes to its insurance fund, which also absorbs any
    /// loss beyond it).
    fn liquidate_underwater(&mut self, at: OffsetDateTime) -> Result<(), StateError> {
        let mm_rate = self.params.maintenance_margin_rate;
        let underwater: Vec<String> = self
            .positions
            .values()
            .filter(|p| p.is_liquidatable(self.prices[p.market.underlying()], mm_rate))
            .map(|p| p.id.clone())
            .collect();
        for id in underwater {
            let Some(position) = self.positions.remove(&id) else {
                continue;
            };
            let realized_pnl_usdc = -position.margin_usdc;
            self.income.trading_realized_pnl_usdc =
                add(self.income.trading_realized_pnl_usdc, realized_pnl_usdc)?;
            self.stats.liquidations += 1;
            let closed = ClosedPosition {
                position_id: position.id,
                market: position.market,
                status: CloseStatus::Liquidated,
                close_price: Some(self.prices[position.market.underlying()]),
                realized_pnl_usdc,
                fee_usdc: Decimal::ZERO,
                returned_usdc: Decimal::ZERO,
                closed_at: at,
            };
            self.notices.push(closed_event(&closed));
            self.remember_closed(closed);
        }
        Ok(())
    }

    fn pay_funding(
        &mut self,
        rates: &BTreeMap<PerpMarket, Decimal>,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        for rate in rates.values() {
            if rate.abs() > MAX_FUNDING_RATE {
                return Err(invalid(
                    "rates",
                    &format!("every rate must be within ±{MAX_FUNDING_RATE}"),
                ));
            }
        }
        let mut net_usdc = Decimal::ZERO;
        for position in self.positions.values_mut() {
            if position.status != PositionStatus::Open {
                continue;
            }
            let Some(rate) = rates.get(&position.market) else {
                continue;
            };
            let mark = self.prices[position.market.underlying()];
            let long_pays_usdc = (position.quantity * mark * rate)
                .round_dp_with_strategy(CENT_DP, RoundingStrategy::MidpointAwayFromZero);
            // Isolated margin: funding settles into the position's own margin, and a payment
            // larger than the margin takes all of it (the position is then liquidated below).
            let received_usdc = (-position.sign() * long_pays_usdc).max(-position.margin_usdc);
            self.stats.funding_payments += 1;
            position.margin_usdc = add(position.margin_usdc, received_usdc)?;
            position.funding_usdc = add(position.funding_usdc, received_usdc)?;
            net_usdc = add(net_usdc, received_usdc)?;
        }
        self.income.funding_usdc = add(self.income.funding_usdc, net_usdc)?;
        self.liquidate_underwater(at)?;
        Ok(EventKind::Funding {
            rates: rates
                .iter()
                .map(|(market, rate)| (market.name().to_owned(), WireDecimal(*rate)))
                .collect(),
            amount_usdc: net_usdc,
        })
    }

    fn wallet_buy(
        &mut self,
        asset: Asset,
        quantity: Decimal,
        at: OffsetDateTime,
    ) -> Result<EventKind, StateError> {
        check_quantity(quantity)?;
        let mid = self.prices[asset];
        let ask = mid * (Decimal::ONE + self.params.wallet_half_spread);
        let cost_usdc = ceil_cents(quantity * ask);
        self.debit_for("quantity", Service::Wallet, cost_usdc, || {
            format!("{quantity} {asset} at {ask}")
        })?;
        let lot = Lot {
            lot_id: format!("lot-{:08}", self.next_lot_id),
            quantity,
            cost_basis_usdc: cost_usdc,
            acquired_at: at,
        };
        self.next_lot_id += 1;
        let spread_usdc = sub(cost_usdc, quantity * mid)?;
        self.stats.wallet_buys += 1;
        self.stats.wallet_spread_usdc = add(self.stats.wallet_spread_usdc, spread_usdc)?;
        let wire_lot = WalletLot {
            lot_id: lot.lot_id.clone(),
            quantity,
            cost_basis_usdc: cost_usdc,
            acquired_at: at,
            proceeds_usdc: None,
            realized_pnl_usdc: None,
        };
        self.lots[asset].push_back(lot);
        Ok(EventKind::WalletTrade {
            trade_id: self.next_trade_id(),
            asset: asset.symbol().to_owned(),
            side: TradeSide::Buy,
            quantity,
            price_usdc: ask,
            notional_usdc: cost_usdc,
            realized_pnl_usdc: None,
            mid_price_usdc: mid,
            spread_usdc,
            lots: vec![wire_lot],
        })
    }

    fn wallet_sell(&mut self, asset: Asset, quantity: Decimal) -> Result<EventKind, StateError> {
        check_quantity(quantity)?;
        let available: Decimal = self.lots[asset].iter().map(|lot| lot.quantity).sum();
        if quantity > available {
            return Err(StateError::InsufficientHoldings {
                asset,
                requested: quantity,
                available,
            });
        }
        let mid = self.prices[asset];
        let bid = mid * (Decimal::ONE - self.params.wallet_half_spread);
        let proceeds_usdc = floor_cents(quantity * bid).max(Decimal::ZERO);
        let used = book::take_fifo(&mut self.lots[asset], quantity).ok_or(
            StateError::InsufficientHoldings {
                asset,
                requested: quantity,
                available,
            },
        )?;
        // Proceeds are shared across the lots used in proportion to their units (the last
        // takes the remainder, so the shares add up exactly).
        let mut lots = Vec::with_capacity(used.len());
        let mut proceeds_left = proceeds_usdc;
        let mut basis_usdc = Decimal::ZERO;
        for (index, part) in used.iter().enumerate() {
            let share_usdc = if index + 1 == used.len() {
                proceeds_left
            } else {
                round_cents(proceeds_usdc * part.quantity / quantity).min(proceeds_left)
            };
            proceeds_left -= share_usdc;
            basis_usdc = add(basis_usdc, part.cost_basis_usdc)?;
            lots.push(WalletLot {
                lot_id: part.lot_id.clone(),
                quantity: part.quantity,
                cost_basis_usdc: part.cost_basis_usdc,
                acquired_at: part.acquired_at,
                proceeds_usdc: Some(share_usdc),
                realized_pnl_usdc: Some(share_usdc - part.cost_basis_usdc),
            });
        }
        let realized_pnl_usdc = sub(proceeds_usdc, basis_usdc)?;
        self.credit(Service::Wallet, proceeds_usdc)?;
        self.income.wallet_realized_pnl_usdc =
            add(self.income.wallet_realized_pnl_usdc, realized_pnl_usdc)?;
        let spread_usdc = sub(quantity * mid, proceeds_usdc)?;
        self.stats.wallet_sells += 1;
        self.stats.wallet_spread_usdc = add(self.stats.wallet_spread_usdc, spread_usdc)?;
        Ok(EventKind::WalletTrade {
            trade_id: self.next_trade_id(),
            asset: asset.symbol().to_owned(),
            side: TradeSide::Sell,
            quantity,
            price_usdc: bid,
            notional_usdc: proceeds_usdc,
            realized_pnl_usdc: Some(realized_pnl_usdc),
            mid_price_usdc: mid,
            spread_usdc,
            lots,
        })
    }

    fn next_trade_id(&mut self) -> String {
        let id = format!("wt-{:08}", self.next_trade_id);
        self.next_trade_id += 1;
        id
    }

    fn positions_value(&self) -> Decimal {
        self.positions
            .values()
            .map(|p| p.value_usdc(self.prices[p.market.underlying()]))
            .fold(Decimal::ZERO, saturating_add)
    }

    fn holdings_value(&self) -> Decimal {
        self.lots
            .iter()
            .flat_map(|(asset, lots)| lots.iter().map(move |lot| (asset, lot)))
            .map(|(asset, lot)| lot.quantity * self.prices[asset])
            .fold(Decimal::ZERO, saturating_add)
    }

    fn unrealized_pnl(&self) -> Decimal {
        let positions = self
            .positions
            .values()
            .map(|p| p.unrealized_pnl_usdc(self.prices[p.market.underlying()]));
        let lots = self.lots.iter().flat_map(|(asset, lots)| {
            lots.iter()
                .map(move |lot| lot.quantity * self.prices[asset] - lot.cost_basis_usdc)
        });
        positions.chain(lots).fold(Decimal::ZERO, saturating_add)
    }

    /// Closes the day: returns each service's simple return for it and opens the next day
    /// at the current values.
    ///
    /// The return is the day's performance over the money at work that day (the opening
    /// value plus what flowed in), so a transfer in or out is never mistaken for a gain or
    /// a loss. A service that held nothing all day returns 0.
    pub fn close_day(&mut self) -> ServiceMap<f64> {
        let returns = ServiceMap::from_fn(|service| {
            let at_work =
                saturating_add(self.day.start_usdc[service], self.day.inflows_usdc[service]);
            if at_work <= Decimal::ZERO {
                return 0.0;
            }
            let r = self.day.pnl_usdc[service]
                .checked_div(at_work)
                .unwrap_or_default();
            decimal_to_f64(r)
        });
        self.day = DayBook::open(self.values());
        returns
    }

    /// Checks the accounting identity.
    pub fn accounting(&self) -> AccountingCheck {
        let cash_usdc = checked_sum(self.balances_usdc.values()).unwrap_or(Decimal::MAX);
        let positions_value_usdc = self.positions_value();
        let holdings_value_usdc = self.holdings_value();
        let unrealized_pnl_usdc = self.unrealized_pnl();
        let total_usdc = cash_usdc
            .checked_add(positions_value_usdc)
            .and_then(|v| v.checked_add(holdings_value_usdc))
            .unwrap_or(Decimal::MAX);
        let expected_usdc = self
            .initial_funds_usdc
            .checked_add(self.income.total_usdc())
            .and_then(|v| v.checked_add(unrealized_pnl_usdc))
            .and_then(|v| v.checked_sub(self.fees_usdc))
            .and_then(|v| v.checked_add(self.adjustments_usdc))
            .unwrap_or(Decimal::MIN);
        AccountingCheck {
            ok: total_usdc == expected_usdc,
            total_usdc,
            expected_usdc,
            initial_funds_usdc: self.initial_funds_usdc,
            income: self.income,
            fees_usdc: self.fees_usdc,
            adjustments_usdc: self.adjustments_usdc,
            cash_usdc,
            positions_value_usdc,
            holdings_value_usdc,
            unrealized_pnl_usdc,
            trading_fees_usdc: self.trading_fees_usdc,
        }
    }

    fn credit(&mut self, service: Service, amount_usdc: Decimal) -> Result<(), StateError> {
        self.balances_usdc[service] = add(self.balances_usdc[service], amount_usdc)?;
        Ok(())
    }

    fn debit(&mut self, service: Service, amount_usdc: Decimal) -> Result<(), StateError> {
        let available_usdc = self.balances_usdc[service];
        if amount_usdc > available_usdc {
            return Err(StateError::InsufficientBalance {
                service,
                requested_usdc: amount_usdc,
                available_usdc,
            });
        }
        self.balances_usdc[service] = available_usdc - amount_usdc;
        Ok(())
    }

    /// Debits what a request costs, refusing a shortfall as [`StateError::InsufficientFunds`]
    /// that names the request's `field` and says what the money was for (`detail`, built
    /// only then).
    fn debit_for(
        &mut self,
        field: &'static str,
        service: Service,
        amount_usdc: Decimal,
        detail: impl FnOnce() -> String,
    ) -> Result<(), StateError> {
        let available_usdc = self.balances_usdc[service];
        if amount_usdc > available_usdc {
            return Err(StateError::InsufficientFunds {
                field,
                service,
                requested_usdc: amount_usdc,
                available_usdc,
                detail: detail(),
            });
        }
        self.debit(service, amount_usdc)
    }

    fn change(&mut self, service: Service, change_usdc: Decimal) -> Result<(), StateError> {
        if change_usdc.is_sign_negative() {
            self.debit(service, -change_usdc)
        } else {
            self.credit(service, change_usdc)
        }
    }

    fn book_pnl(&mut self, service: Service, pnl_usdc: Decimal) -> Result<(), StateError> {
        self.day.pnl_usdc[service] = add(self.day.pnl_usdc[service], pnl_usdc)?;
        Ok(())
    }
}

fn closed_event(closed: &ClosedPosition) -> EventKind {
    EventKind::PositionClosed {
        position_id: closed.position_id.clone(),
        market: closed.market.name().to_owned(),
        status: closed.status.name().to_owned(),
        close_price: closed.close_price,
        realized_pnl_usdc: closed.realized_pnl_usdc,
        fee_usdc: closed.fee_usdc,
    }
}

/// Checks that an amount is positive and in whole cents.
///
/// # Errors
/// [`StateError::Invalid`] naming `field`.
pub fn check_cents(field: &'static str, amount_usdc: Decimal) -> Result<(), StateError> {
    if amount_usdc <= Decimal::ZERO {
        return Err(invalid(field, "must be positive"));
    }
    check_signed_cents(field, amount_usdc)
}

fn check_signed_cents(field: &'static str, amount_usdc: Decimal) -> Result<(), StateError> {
    if amount_usdc.normalize().scale() > CENT_DP {
        return Err(invalid(field, "must have at most 2 decimal places"));
    }
    Ok(())
}

/// Checks a price: positive, whole cents, at most [`MAX_PRICE_USDC`].
fn check_price(field: &'static str, price: Decimal) -> Result<(), StateError> {
    if price <= Decimal::ZERO {
        return Err(invalid(field, "must be positive"));
    }
    if price > MAX_PRICE_USDC {
        return Err(invalid(field, &format!("must be at most {MAX_PRICE_USDC}")));
    }
    check_signed_cents(field, price)
}

/// Checks a wallet quantity: positive, at most [`MAX_QUANTITY`] and [`QUANTITY_DP`] places.
fn check_quantity(quantity: Decimal) -> Result<(), StateError> {
    if quantity <= Decimal::ZERO {
        return Err(invalid("quantity", "must be positive"));
    }
    if quantity > MAX_QUANTITY {
        return Err(invalid(
            "quantity",
            &format!("must be at most {MAX_QUANTITY}"),
        ));
    }
    if quantity.normalize().scale() > QUANTITY_DP {
        return Err(invalid(
            "quantity",
            &format!("must have at most {QUANTITY_DP} decimal places"),
        ));
    }
    Ok(())
}

fn check_balance(service: Service, value: Decimal) -> Result<(), StateError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(invalid(service.balance_field(), "must not be negative"));
    }
    check_signed_cents(service.balance_field(), value)
}

/// Rounds a casino payout ratio the way events report it.
pub fn round_multiplier(multiplier: Decimal) -> Decimal {
    multiplier.round_dp_with_strategy(MULTIPLIER_DP, RoundingStrategy::MidpointAwayFromZero)
}

fn checked_sum<'a>(mut values: impl Iterator<Item = &'a Decimal>) -> Result<Decimal, StateError> {
    values.try_fold(Decimal::ZERO, |acc, v| add(acc, *v))
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_add(b).ok_or_else(too_large)
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_sub(b).ok_or_else(too_large)
}

fn too_large() -> StateError {
    invalid("amount_usdc", "is too large")
}

/// Refuses the reserve in `field` where an op needs a tradable service, saying `why` when
/// the reason is not obvious.
fn not_reserve(field: &'static str, service: Service, why: Option<&str>) -> Result<(), StateError> {
    if service != Service::Reserve {
        return Ok(());
    }
    let reason = match why {
        Some(why) => format!("must not be `reserve`: {why}"),
        None => "must not be `reserve`".to_owned(),
    };
    Err(invalid(field, &reason))
}

/// `a + b`, or `Decimal::MAX` when that overflows: for reported values, which must not
/// fail the request that reads them.
fn saturating_add(a: Decimal, b: Decimal) -> Decimal {
    a.checked_add(b).unwrap_or(Decimal::MAX)
}

fn invalid(field: &'static str, reason: &str) -> StateError {
    StateError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::sim::article_balances_usdc;

    #[test]
    fn apply_validates_and_moves_money() {
        struct TestCase {
            op: Op,
            expected: Result<ServiceMap<Decimal>, &'static str>,
        }
        let cases = [
            // TC0: an increase moves money from the reserve into the service.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(50),
                },
                expected: Ok(ServiceMap([
                    dec!(250),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(50),
                ])),
            },
            // TC1: a decrease moves it back.
            TestCase {
                op: Op::Transfer {
                    service: Service::Trading,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(0.01),
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(299.99),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100.01),
                ])),
            },
            // TC2: a decrease beyond the balance.
            TestCase {
                op: Op::Transfer {
                    service: Service::Escrow,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(100.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC3: an increase beyond the reserve.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(100.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC4: the reserve is not a transfer target.
            TestCase {
                op: Op::Transfer {
                    service: Service::Reserve,
                    direction: Direction::Increase,
                    amount_usdc: dec!(1),
                },
                expected: Err("service"),
            },
            // TC5: fractions of a cent.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(1.001),
                },
                expected: Err("amount_usdc"),
            },
            // TC6: zero.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(0),
                },
                expected: Err("amount_usdc"),
            },
            // TC7: trailing zeros are still whole cents.
            TestCase {
                op: Op::CasinoLoss {
                    amount_usdc: dec!(1.500),
                },
                expected: Ok(ServiceMap([
                    dec!(198.5),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
            },
            // TC8: a casino loss larger than the bankroll.
            TestCase {
                op: Op::CasinoLoss {
                    amount_usdc: dec!(200.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC9: a mark-to-market loss net of fees.
            TestCase {
                op: Op::MarkToMarket {
                    service: Service::Wallet,
                    pnl_usdc: dec!(-10),
                    fee_usdc: dec!(0.5),
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(300),
                    dec!(139.5),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
            },
            // TC10: a 25% drawdown of trading.
            TestCase {
                op: Op::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(0.25),
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(225),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
            },
            // TC11: a drawdown above 100%.
            TestCase {
                op: Op::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(1.5),
                },
                expected: Err("drawdown"),
            },
            // TC12: referral income lands in the reserve.
            TestCase {
                op: Op::ReferralIncome {
                    amount_usdc: dec!(2.5),
                    source_service: Service::Casino,
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(102.5),
                ])),
            },
            // TC13: a negative out-of-band balance.
            TestCase {
                op: Op::SetBalances {
                    balances_usdc: ServiceMap([
                        dec!(-1),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                    ]),
                },
                expected: Err("casino_balance"),
            },
            // TC14: a win must pay more than its stake.
            TestCase {
                op: Op::CasinoWin {
                    amount_usdc: dec!(1),
                    stake_usdc: dec!(1),
                    multiplier: dec!(1),
                },
                expected: Err("multiplier"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");
            let before = ledger.clone();
            match (ledger.apply(&case.op), &case.expected) {
                (Ok(_), Ok(balances)) => assert_eq!(&ledger.balances(), balances, "TC{index}"),
                (Err(err), Err(needle)) => {
                    let text = format!("{} {err}", err.code());
                    assert!(text.contains(needle), "TC{index}: {text} lacks {needle}");
                    assert_eq!(ledger, before, "TC{index}: a refused op changed the books");
                }
                (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
            }
            assert!(ledger.accounting().ok, "TC{index}: identity broken");
        }
    }

    #[test]
    fn transfers_are_not_returns() {
        let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");
        // A transfer in, then a 10% gain on the opening balance plus the transfer.
        ledger
            .apply(&Op::Transfer {
                service: Service::Domains,
                direction: Direction::Increase,
                amount_usdc: dec!(50),
            })
            .expect("applies");
        ledger
            .apply(&Op::DomainsIncome {
                amount_usdc: dec!(20),
            })
            .expect("applies");
        let returns = ledger.close_day();
        assert!((returns[Service::Domains] - 0.1).abs() < 1e-12);
        // The reserve lost 50 to the transfer but earned nothing: its return is 0.
        assert_eq!(returns[Service::Reserve], 0.0);
        assert_eq!(returns[Service::Casino], 0.0);
        // The next day opens at the closing balances.
        ledger
            .apply(&Op::CasinoLoss {
                amount_usdc: dec!(20),
            })
            .expect("applies");
        assert!((ledger.close_day()[Service::Casino] + 0.1).abs() < 1e-12);
    }

    #[test]
    fn transfer_ids_are_unique_and_ordered() {
        let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");
        let mut ids = Vec::new();
        for _ in 0..3 {
            match ledger.apply(&Op::Transfer {
                service: Service::Casino,
                direction: Direction::Decrease,
                amount_usdc: dec!(1),
            }) {
                Ok(EventKind::Transfer { transfer_id, .. }) => ids.push(transfer_id),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ids, ["tr-00000001", "tr-00000002", "tr-00000003"]);
    }

    const AT: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

    fn prices(btc: Decimal, eth: Decimal, sol: Decimal) -> AssetMap<Decimal> {
        AssetMap([btc, eth, sol, dec!(160)])
    }

    fn open(
        market: PerpMarket,
        side: PositionSide,
        notional_usdc: Decimal,
        leverage: u32,
        limit_price: Option<Decimal>,
    ) -> Op {
        Op::OpenPosition(OpenOrder {
            market,
            side,
            notional_usdc,
            leverage,
            order_type: if limit_price.is_some() {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            limit_price,
            purpose: "hedge".into(),
            at: AT,
        })
    }

    fn assert_identity(ledger: &Ledger, step: &str) {
        let check = ledger.accounting();
        assert!(check.ok, "{step}: identity broken: {check:?}");
    }

    #[test]
    fn perp_story_fees_funding_pnl_and_liquidation() {
        let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");

        // Step 1: a 5x long of 1,000 USDC of BTC at 95,000: margin 200 and a 0.1% taker
        // fee of 1.00 leave the trading balance 300 − 201 = 99; the position is worth its
        // margin, so trading is worth 299.
        let kinds = ledger
            .apply_all(&open(
                PerpMarket::BtcPerp,
                PositionSide::Long,
                dec!(1000),
                5,
                None,
            ))
            .expect("opens");
        assert_eq!(
            kinds,
            [EventKind::PositionOpened {
                position_id: "pos-00000001".into(),
                order_id: "ord-00000001".into(),
                market: "BTC-PERP".into(),
                side: PositionSide::Long,
                notional_usdc: dec!(1000),
                leverage: 5,
                fill_price: dec!(95000),
                fee_usdc: dec!(1.00),
                margin_usdc: dec!(200),
                quantity: dec!(0.01052631),
            }]
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(99));
        assert_eq!(ledger.values()[Service::Trading], dec!(299));
        assert_identity(&ledger, "open");

        // Step 2: BTC to 100,000: unrealized 0.01052631 × 5,000 = 52.63155, exact.
        ledger
            .apply(&Op::MarkMove {
                prices: prices(dec!(100000), dec!(3400), dec!(180)),
                at: AT,
            })
            .expect("moves");
        assert_eq!(ledger.values()[Service::Trading], dec!(351.63155));
        assert_eq!(ledger.reported_values()[Service::Trading], dec!(351.63));
        assert_identity(&ledger, "mark");

        // Step 3: a positive rate: the long pays 0.01052631 × 100,000 × 0.0001 = 0.105 → 0.11
        // from its margin.
        let funding = ledger
            .apply(&Op::Funding {
                rates: BTreeMap::from([(PerpMarket::BtcPerp, dec!(0.0001))]),
                at: AT,
            })
            .expect("funds");
        assert!(
            matches!(funding, EventKind::Funding { amount_usdc, .. } if amount_usdc == dec!(-0.11))
        );
        let position = ledger.positions().next().expect("open");
        assert_eq!(
            (position.margin_usdc, position.funding_usdc),
            (dec!(199.89), dec!(-0.11))
        );
        assert_identity(&ledger, "funding");

        // Step 4: refusals name their field and change nothing.
        let before = ledger.clone();
        for (op, needle) in [
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(100),
                    21,
                    None,
                ),
                "`leverage`",
            ),
            (
                open(PerpMarket::EthPerp, PositionSide::Short, dec!(100), 0, None),
                "`leverage`",
            ),
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(1000),
                    2,
                    None,
                ),
                "`notional_usdc`: insufficient balance",
            ),
            (
                open(
                    PerpMarket::EthPerp,
                    PositionSide::Short,
                    dec!(10.001),
                    2,
                    None,
                ),
                "`notional_usdc`",
            ),
            (
                Op::OpenPosition(OpenOrder {
                    market: PerpMarket::EthPerp,
                    side: PositionSide::Short,
                    notional_usdc: dec!(10),
                    leverage: 2,
                    order_type: OrderType::Limit,
                    limit_price: None,
                    purpose: "hedge".into(),
                    at: AT,
                }),
                "`limit_price`",
            ),
            (
                Op::ClosePosition {
                    position_id: "pos-00000009".into(),
                    at: AT,
                },
                "pos-00000009",
            ),
        ] {
            let error = ledger.apply(&op).expect_err("refused");
            assert!(error.to_string().contains(needle), "{error} lacks {needle}");
            assert_eq!(ledger, before);
        }

        // Step 5: close at 100,000: realized floor(52.63155) = 52.63, taker fee
        // ceil(1,052.631 × 0.1%) = 1.06; 199.89 + 52.63 − 1.06 = 251.46 comes back.
        let closed = ledger
            .apply(&Op::ClosePosition {
                position_id: "pos-00000001".into(),
                at: AT,
            })
            .expect("closes");
        assert_eq!(
            closed,
            EventKind::PositionClosed {
                position_id: "pos-00000001".into(),
                market: "BTC-PERP".into(),
                status: "closed".into(),
                close_price: Some(dec!(100000)),
                realized_pnl_usdc: dec!(52.63),
                fee_usdc: dec!(1.06),
            }
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(350.46));
        assert_eq!(
            ledger.accounting().income.trading_realized_pnl_usdc,
            dec!(52.63)
        );
        assert_eq!(ledger.accounting().trading_fees_usdc, dec!(2.06));
        assert_eq!(
            ledger
                .closed_position("pos-00000001")
                .map(|c| c.returned_usdc),
            Some(dec!(251.46))
        );
        assert_identity(&ledger, "close");

        // Step 6: a short limit above the mark rests, reserving margin 175 and the maker fee
        // 0.175 → 0.18; the mark reaching it fills it at the limit.
        let placed = ledger
            .apply(&open(
                PerpMarket::EthPerp,
                PositionSide::Short,
                dec!(350),
                2,
                Some(dec!(3500)),
            ))
            .expect("rests");
        assert!(
            matches!(placed, EventKind::OrderPlaced { reserved_usdc, .. } if reserved_usdc == dec!(175.18))
        );
        assert_eq!(ledger.balances()[Service::Trading], dec!(175.28));
        let kinds = ledger
            .apply_all(&Op::MarkMove {
                prices: prices(dec!(100000), dec!(3600), dec!(180)),
                at: AT,
            })
            .expect("moves");
        assert!(
            matches!(&kinds[1], EventKind::PositionOpened { fill_price, fee_usdc, quantity, .. }
            if *fill_price == dec!(3500) && *fee_usdc == dec!(0.18) && *quantity == dec!(0.1))
        );
        assert_identity(&ledger, "limit fill");

        // Step 7: at 5,200 equity is 175 − 170 = 5, above maintenance (2.60); at 5,230 it is
        // 2, below 2.615: liquidated, the margin lost.
        let kinds = ledger
            .apply_all(&Op::MarkMove {
                prices: prices(dec!(100000), dec!(5200), dec!(180)),
                at: AT,
            })
            .expect("moves");
        assert_eq!(kinds.len(), 1);
        let kinds = ledger
            .apply_all(&Op::MarkMove {
                prices: prices(dec!(100000), dec!(5230), dec!(180)),
                at: AT,
            })
            .expect("moves");
        assert!(
            matches!(&kinds[1], EventKind::PositionClosed { status, realized_pnl_usdc, .. }
            if status == "liquidated" && *realized_pnl_usdc == dec!(-175))
        );
        assert_eq!(ledger.positions().count(), 0);
        let stats = ledger.market_stats();
        assert_eq!(
            (
                stats.positions_opened,
                stats.positions_closed,
                stats.limit_fills,
                stats.liquidations
            ),
            (2, 1, 1, 1)
        );
        assert_identity(&ledger, "liquidation");
    }

    #[test]
    fn wallet_fifo_lots_spread_and_escrow_fees() {
        let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");

        // Step 1: 0.5 SOL at the ask 180 × 1.001 = 180.18 costs 90.09, a lot of that basis.
        let bought = ledger
            .apply(&Op::WalletBuy {
                asset: Asset::Sol,
                quantity: dec!(0.5),
                at: AT,
            })
            .expect("buys");
        assert!(
            matches!(bought, EventKind::WalletTrade { notional_usdc, spread_usdc, .. }
            if notional_usdc == dec!(90.09) && spread_usdc == dec!(0.09))
        );
        assert_eq!(ledger.balances()[Service::Wallet], dec!(59.91));
        // Wallet value: cash + 0.5 × 180 at the mid; the spread is already a loss.
        assert_eq!(ledger.values()[Service::Wallet], dec!(149.91));
        assert_identity(&ledger, "buy");

        // Step 2: SOL to 200, 0.25 more at 200.20: 50.05.
        ledger
            .apply(&Op::MarkMove {
                prices: prices(dec!(95000), dec!(3400), dec!(200)),
                at: AT,
            })
            .expect("moves");
        ledger
            .apply(&Op::WalletBuy {
                asset: Asset::Sol,
                quantity: dec!(0.25),
                at: AT + time::Duration::DAY,
            })
            .expect("buys");
        assert_identity(&ledger, "second buy");

        // Step 3: SOL to 150, sell 0.6 at the bid 149.85 for 89.91: all of the first lot and
        // 0.1 of the second (basis 50.05 × 0.4 = 20.02).
        ledger
            .apply(&Op::MarkMove {
                prices: prices(dec!(95000), dec!(3400), dec!(150)),
                at: AT,
            })
            .expect("moves");
        let sold = ledger
            .apply(&Op::WalletSell {
                asset: Asset::Sol,
                quantity: dec!(0.6),
                at: AT,
            })
            .expect("sells");
        let EventKind::WalletTrade {
            notional_usdc,
            realized_pnl_usdc,
            lots,
            ..
        } = sold
        else {
            panic!("not a trade: {sold:?}");
        };
        assert_eq!(notional_usdc, dec!(89.91));
        assert_eq!(realized_pnl_usdc, Some(dec!(-20.20)));
        let used: Vec<_> = lots
            .iter()
            .map(|l| {
                (
                    l.lot_id.as_str(),
                    l.quantity,
                    l.cost_basis_usdc,
                    l.proceeds_usdc,
                )
            })
            .collect();
        assert_eq!(
            used,
            [
                ("lot-00000001", dec!(0.5), dec!(90.09), Some(dec!(74.92))),
                ("lot-00000002", dec!(0.1), dec!(20.02), Some(dec!(14.99))),
            ]
        );
        let left = ledger.lots(Asset::Sol);
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].quantity, left[0].cost_basis_usdc),
            (dec!(0.15), dec!(30.03))
        );
        assert_eq!(ledger.balances()[Service::Wallet], dec!(99.77));
        assert_identity(&ledger, "sell");

        // Step 4: refusals name their field and change nothing.
        let before = ledger.clone();
        for (op, code, needle) in [
            (
                Op::WalletSell {
                    asset: Asset::Sol,
                    quantity: dec!(1),
                    at: AT,
                },
                "insufficient_holdings",
                "`quantity`",
            ),
            (
                Op::WalletBuy {
                    asset: Asset::Btc,
                    quantity: dec!(1),
                    at: AT,
                },
                "insufficient_balance",
                "`quantity`",
            ),
            (
                Op::WalletBuy {
                    asset: Asset::Btc,
                    quantity: dec!(0.000000001),
                    at: AT,
                },
                "bad_request",
                "`quantity`",
            ),
            (
                Op::EscrowFee {
                    deal_usdc: dec!(0.99),
                },
                "bad_request",
                "`deal_usdc`",
            ),
        ] {
            let error = ledger.apply(&op).expect_err("refused");
            assert_eq!(error.code(), code, "{error}");
            assert!(error.to_string().contains(needle), "{error} lacks {needle}");
            assert_eq!(ledger, before);
        }

        // Step 5: escrow earns 1% of a settled deal, toward zero to the cent.
        let fee = ledger
            .apply(&Op::EscrowFee {
                deal_usdc: dec!(1234.56),
            })
            .expect("earns");
        assert_eq!(
            fee,
            EventKind::EscrowFee {
                deal_usdc: dec!(1234.56),
                amount_usdc: dec!(12.34)
            }
        );
        assert_eq!(ledger.balances()[Service::Escrow], dec!(112.34));
        assert_identity(&ledger, "escrow");
        let stats = ledger.market_stats();
        assert_eq!(
            (stats.wallet_buys, stats.wallet_sells, stats.open_lots),
            (2, 1, 1)
        );
    }

    #[test]
    fn market_performance_reaches_daily_returns() {
        let mut ledger = Ledger::new(article_balances_usdc()).expect("valid");
        // A 1x short of 0.001 BTC pays a taker fee of 0.095 → 0.10.
        ledger
            .apply(&open(
                PerpMarket::BtcPerp,
                PositionSide::Short,
                dec!(95),
                1,
                None,
            ))
            .expect("opens");
        // BTC down 10%: the short gains 0.001 × 9,500 = 9.50; trading's day is 9.40 on 300.
        ledger
            .apply(&Op::MarkMove {
                prices: prices(dec!(85500), dec!(3400), dec!(180)),
                at: AT,
            })
            .expect("moves");
        let returns = ledger.close_day();
        assert!(
            (returns[Service::Trading] - 9.40 / 300.0).abs() < 1e-12,
            "{returns:?}"
        );
        assert_eq!(returns[Service::Wallet], 0.0);
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    fn cents() -> impl Strategy<Value = Decimal> {
        // Mostly whole cents, some zero, some with a third decimal place (invalid).
        prop_oneof![
            8 => (0_i64..50_000).prop_map(|c| Decimal::new(c, 2)),
            1 => Just(Decimal::ZERO),
            1 => (1_i64..50_000).prop_map(|m| Decimal::new(m, 3)),
        ]
    }

    fn service() -> impl Strategy<Value = Service> {
        prop::sample::select(Service::ALL.to_vec())
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (service(), any::<bool>(), cents()).prop_map(|(service, up, amount_usdc)| {
                Op::Transfer {
                    service,
                    direction: if up {
                        Direction::Increase
                    } else {
                        Direction::Decrease
                    },
                    amount_usdc,
                }
            }),
            (cents(), cents(), 100_u32..10_000).prop_map(|(amount_usdc, stake_usdc, m)| {
                Op::CasinoWin {
                    amount_usdc,
                    stake_usdc,
                    multiplier: Decimal::new(i64::from(m), 2),
                }
            }),
            cents().prop_map(|amount_usdc| Op::CasinoLoss { amount_usdc }),
            (cents(), service()).prop_map(|(amount_usdc, source_service)| Op::ReferralIncome {
                amount_usdc,
                source_service,
            }),
            cents().prop_map(|amount_usdc| Op::DomainsIncome { amount_usdc }),
            (service(), cents(), any::<bool>(), cents()).prop_map(
                |(service, pnl, negative, fee_usdc)| Op::MarkToMarket {
                    service,
                    pnl_usdc: if negative { -pnl } else { pnl },
                    fee_usdc,
                }
            ),
            (service(), 0_i64..=120).prop_map(|(service, pct)| Op::Drawdown {
                service,
                drawdown: Decimal::new(pct, 2),
            }),
            prop::array::uniform6(cents()).prop_map(|b| Op::SetBalances {
                balances_usdc: ServiceMap(b),
            }),
            cents().prop_map(|deal_usdc| Op::EscrowFee { deal_usdc }),
            // Market operations are half the mix: they have the most ways to go wrong.
            market_op(),
            market_op(),
            market_op(),
            market_op(),
            market_op(),
            market_op(),
            market_op(),
        ]
    }

    const AT: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

    /// A price between half and one and a half times the asset's start price, whole cents.
    fn price(asset: Asset) -> impl Strategy<Value = Decimal> {
        (50_u32..=150).prop_map(move |pct| {
            (asset.start_price_usdc() * Decimal::from(pct) / Decimal::ONE_HUNDRED).round_dp(2)
        })
    }

    /// Quantities from a satoshi up to `10^(6 − min_scale)` units, some with too many
    /// decimals.
    fn quantity(min_scale: u32) -> impl Strategy<Value = Decimal> {
        prop_oneof![
            9 => (1_i64..1_000_000, min_scale..=8).prop_map(|(m, scale)| Decimal::new(m, scale)),
            1 => (1_i64..5_000, Just(9_u32)).prop_map(|(m, scale)| Decimal::new(m, scale)),
        ]
    }

    fn market_op() -> impl Strategy<Value = Op> {
        let market = prop::sample::select(PerpMarket::ALL.to_vec());
        let asset = prop::sample::select(Asset::ALL.to_vec());
        prop_oneof![
            (
                market.clone(),
                any::<bool>(),
                cents(),
                0_u32..=25,
                prop::option::of(50_u32..=150),
                prop_oneof![9 => Just("hedge"), 1 => Just(" ")],
            )
                .prop_map(
                    |(market, long, notional_usdc, leverage, limit_pct, purpose)| {
                        let start = market.underlying().start_price_usdc();
                        Op::OpenPosition(OpenOrder {
                            market,
                            side: if long {
                                PositionSide::Long
                            } else {
                                PositionSide::Short
                            },
                            notional_usdc,
                            leverage,
                            order_type: if limit_pct.is_some() {
                                OrderType::Limit
                            } else {
                                OrderType::Market
                            },
                            limit_price: limit_pct.map(|pct| {
                                (start * Decimal::from(pct) / Decimal::ONE_HUNDRED).round_dp(2)
                            }),
                            purpose: purpose.to_owned(),
                            at: AT,
                        })
                    }
                ),
            // Mostly ids that exist; some already closed or never opened.
            (1_u64..6).prop_map(|n| Op::ClosePosition {
                position_id: format!("pos-{n:08}"),
                at: AT,
            }),
            (
                price(Asset::Btc),
                price(Asset::Eth),
                price(Asset::Sol),
                price(Asset::Xmr)
            )
                .prop_map(|(btc, eth, sol, xmr)| Op::MarkMove {
                    prices: AssetMap([btc, eth, sol, xmr]),
                    at: AT,
                }),
            prop::collection::btree_map(market, -12_000_i64..=12_000, 0..=3).prop_map(|rates| {
                Op::Funding {
                    // Up to ±1.2%: a little beyond the ±1% accepted, to see refusals.
                    rates: rates
                        .into_iter()
                        .map(|(market, r)| (market, Decimal::new(r, 6)))
                        .collect(),
                    at: AT,
                }
            }),
            // Up to 10 units bought, up to 0.1 sold: sales mostly fit what was bought.
            (asset.clone(), quantity(5)).prop_map(|(asset, quantity)| Op::WalletBuy {
                asset,
                quantity,
                at: AT,
            }),
            (asset, quantity(7)).prop_map(|(asset, quantity)| Op::WalletSell {
                asset,
                quantity,
                at: AT,
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random sequences of every kind of operation: the identity holds exactly after each
        /// one, refusals change nothing, cash stays non-negative whole cents, no position is
        /// left below its maintenance margin, and lots stay well formed.
        #[test]
        fn prop_identity_holds_and_balances_stay_non_negative(
            initial in prop::array::uniform6((0_i64..100_000).prop_map(|c| Decimal::new(c, 2))),
            ops in prop::collection::vec(op(), 1..80),
        ) {
            let mut ledger = Ledger::new(ServiceMap(initial)).expect("valid start");
            for op in &ops {
                let before = ledger.clone();
                let total_before = before.accounting().total_usdc;
                match ledger.apply(op) {
                    Ok(_) => {
                        if let Op::Transfer { .. } = op {
                            // Transfers conserve the total exactly.
                            prop_assert_eq!(ledger.accounting().total_usdc, total_before);
                        }
                    }
                    Err(_) => prop_assert_eq!(&ledger, &before),
                }
                let check = ledger.accounting();
                prop_assert!(check.ok, "identity broken after {:?}: {:?}", op, check);
                for (service, value) in ledger.balances().iter() {
                    prop_assert!(*value >= Decimal::ZERO, "{} negative after {:?}", service, op);
                    prop_assert!(value.normalize().scale() <= CENT_DP);
                }
                let prices = ledger.prices();
                let mm_rate = ledger.params().maintenance_margin_rate;
                for position in ledger.positions() {
                    let mark = prices[position.market.underlying()];
                    prop_assert!(
                        !position.is_liquidatable(mark, mm_rate),
                        "{} left below maintenance after {:?}", position.id, op
                    );
                    prop_assert!(position.value_usdc(mark) > Decimal::ZERO);
                    prop_assert!(position.margin_usdc.normalize().scale() <= CENT_DP);
                }
                for asset in Asset::ALL {
                    for lot in ledger.lots(asset) {
                        prop_assert!(lot.quantity > Decimal::ZERO);
                        prop_assert!(lot.cost_basis_usdc >= Decimal::ZERO);
                        prop_assert!(lot.cost_basis_usdc.normalize().scale() <= CENT_DP);
                    }
                }
            }
            for r in ledger.close_day().values() {
                prop_assert!(r.is_finite());
            }
        }
    }
}
