"""Trading test controls of ``FakeExchange``: accounts, commission, order faults, records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

from criptoren.fake_exchange.faults import Fault, FaultKind, OrderRequest
from criptoren.fake_exchange.orders import fmt8
from criptoren.fake_exchange.trading import Trading

if TYPE_CHECKING:
    from criptoren.fake_exchange.market import Market

T = TypeVar("T")
ORDER_PATH = "/api/v3/order"


class TradingControls:
    """Mixed into ``FakeExchange``: the Python API of its trading side."""

    trading: Trading
    market: Market
    _symbols: dict[str, dict[str, Any] | None]

    if TYPE_CHECKING:

        def _call(self, fn: Callable[..., T], *args: Any) -> T: ...

        def exchange_info(self, symbols: list[str] | None = None) -> dict[str, Any]: ...

    def symbol_info(self, symbol: str) -> dict[str, Any] | None:
        """The exchangeInfo entry of ``symbol`` (None when not listed)."""
        if symbol not in self._symbols:
            found = self.exchange_info([symbol])["symbols"]
            self._symbols[symbol] = found[0] if found else None
        return self._symbols[symbol]

    # --- accounts and commission ------------------------------------------------------

    def add_account(
        self, api_key: str, secret: str, balances: Mapping[str, Decimal | str] | None = None
    ) -> None:
        """Register an API key with its secret and balances (replacing any account of it)."""
        funds = {asset: Decimal(str(v)) for asset, v in (balances or {}).items()}
        self._call(self.trading.add_account, api_key, secret, funds)

    def set_balance(self, api_key: str, asset: str, amount: Decimal | str) -> None:
        """Set the free balance of one asset of an account."""
        self._call(self.trading.account(api_key).balances.__setitem__, asset, Decimal(str(amount)))

    def balances(self, api_key: str) -> dict[str, Decimal]:
        """The free balances of an account."""
        return dict(self.trading.account(api_key).balances)

    def set_commission(self, rate: Decimal | str) -> None:
        """The commission rate of every later fill (default 0.001, i.e. 0.1 %)."""
        self.trading.commission_rate = Decimal(str(rate))

    def set_commission_asset(self, asset: str, fee_per_fill: Decimal | str | None = None) -> None:
        """``"quote"`` (default): the quote asset; ``"base"``: BUYs pay in base; or another asset.

        Another asset (e.g. ``"BNB"``, as when BNB pays the fees) costs ``fee_per_fill`` of it
        per fill, whatever the order's size.
        """
        if asset in ("base", "quote") and fee_per_fill is not None:
            raise ValueError("fee_per_fill is for a third asset only")
        self.trading.commission_asset = asset
        if fee_per_fill is not None:
            self.trading.fee_per_fill = Decimal(str(fee_per_fill))

    def set_depth(self, symbol: str, levels: list[tuple[Decimal | str, Decimal | str]]) -> None:
        """MARKET orders of ``symbol`` walk these (price, quantity) levels (the last takes the
        rest) instead of filling whole at the last price; an empty list restores that."""
        depth = [(Decimal(str(p)), Decimal(str(q))) for p, q in levels]
        self._call(self.trading.depth.__setitem__, symbol, depth)

    def expire_orders(self, count: int = 1) -> None:
        """The next ``count`` orders find no liquidity: EXPIRED, nothing executed."""
        self.trading.expire_next += count

    def skew_clock(self, skew_ms: int) -> None:
        """Run the exchange's clock ``skew_ms`` ahead (negative: behind) for signed requests."""
        self.trading.clock_skew_ms = skew_ms

    # --- failures of the next requests ------------------------------------------------

    def fail_requests(
        self, method: str, path: str, kind: str, count: int = 1, **options: Any
    ) -> None:
        """Apply a fault (429, 418, timeout, 5xx, drop, slow) to the next ``count`` ``method path``.

        On a signed endpoint "drop" does the work (executes an order) and loses the reply.
        """
        fault = Fault(cast(FaultKind, kind), **options)
        self._call(self.trading.faults.add, fault, count, (method.upper(), path))

    def fail_orders(self, kind: str, count: int = 1, **options: Any) -> None:
        """Apply a fault (429, 418, timeout, 5xx, drop) to the next ``count`` orders."""
        self.fail_requests("POST", ORDER_PATH, kind, count, **options)

    def rate_limit_orders(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer 429 + ``Retry-After`` (seconds) to the next orders; nothing executes."""
        self.fail_orders("429", count, retry_after=retry_after)

    def ban_orders(self, count: int = 1, retry_after: int = 120) -> None:
        """Answer 418 + ``Retry-After`` (seconds) to the next orders; nothing executes."""
        self.fail_orders("418", count, retry_after=retry_after)

    def timeout_orders(self, count: int = 1, hold: float = 30.0) -> None:
        """Hold the next orders open unanswered for ``hold`` s (at most 30), then cut them."""
        self.fail_orders("timeout", count, hold=hold)

    def error_orders(self, count: int = 1, status: int = 503) -> None:
        """Answer a 5XX to the next orders; nothing executes."""
        self.fail_orders("5xx", count, status=status)

    def drop_order_replies(self, count: int = 1, hold: float = 0.0) -> None:
        """Execute the next orders, then (after ``hold`` s) cut the connection, never replying."""
        self.fail_orders("drop", count, hold=hold)

    def clear_order_faults(self) -> None:
        """Forget the faults not applied yet."""
        self._call(self.trading.faults.clear)

    # --- records ----------------------------------------------------------------------

    def order_requests(self, *, every_endpoint: bool = False) -> list[OrderRequest]:
        """Every ``POST /api/v3/order`` received (or every signed trading request), in order."""
        return [
            r
            for r in self.trading.requests
            if every_endpoint or (r.method == "POST" and r.path == ORDER_PATH)
        ]

    def orders(self, api_key: str) -> list[dict[str, Any]]:
        """The executed orders of an account (``GET /api/v3/order`` shapes)."""
        return [o.query() for o in self.trading.account(api_key).orders.values()]

    async def wait_order_requests(self, count: int, within: float = 10.0) -> None:
        """Wait until ``count`` order requests (``POST /api/v3/order``) arrived."""
        await self.market.wait_for(lambda: len(self.order_requests()) >= count, within)


def _fault_options(params: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "retry_after" in params:
        options["retry_after"] = int(params["retry_after"])
    if "status" in params:
        options["status"] = int(params["status"])
    if "hold" in params:
        options["hold"] = float(params["hold"])
    if "body" in params:
        options["body"] = str(params["body"])
    return options


def _set_commission(fake: TradingControls, p: Mapping[str, Any]) -> None:
    if "rate" in p:
        fake.set_commission(str(p["rate"]))
    if "asset" in p:
        fake.set_commission_asset(str(p["asset"]))


Control = Callable[[TradingControls, Mapping[str, Any]], Any]
CONTROLS: dict[str, Control] = {
    "add_account": lambda f, p: f.add_account(p["api_key"], p["secret"], p.get("balances")),
    "set_balance": lambda f, p: f.set_balance(p["api_key"], p["asset"], str(p["amount"])),
    "balances": lambda f, p: {k: fmt8(v) for k, v in f.balances(p["api_key"]).items()},
    "set_commission": _set_commission,
    "set_commission_asset": lambda f, p: f.set_commission_asset(str(p["asset"])),
    "fail_orders": lambda f, p: f.fail_orders(
        str(p["kind"]), int(p.get("count", 1)), **_fault_options(p)
    ),
    "fail_requests": lambda f, p: f.fail_requests(
        str(p["method"]),
        str(p["path"]),
        str(p["kind"]),
        int(p.get("count", 1)),
        **_fault_options(p),
    ),
    "set_depth": lambda f, p: f.set_depth(str(p["symbol"]), [tuple(x) for x in p["levels"]]),
    "expire_orders": lambda f, p: f.expire_orders(int(p.get("count", 1))),
    "skew_clock": lambda f, p: f.skew_clock(int(p["skew_ms"])),
    "clear_order_faults": lambda f, p: f.clear_order_faults(),
    "order_requests": lambda f, p: [
        r.to_json()
        for r in f.order_requests(every_endpoint=str(p.get("all", "")).lower() == "true")
    ],
    "orders": lambda f, p: f.orders(p["api_key"]),
}
ALIASES = {
    "rate_limit_orders": "429",
    "ban_orders": "418",
    "timeout_orders": "timeout",
    "error_orders": "5xx",
    "drop_order_replies": "drop",
}


async def run_trading_control(fake: TradingControls, action: str, params: dict[str, Any]) -> Any:
    """Apply one trading control action; unknown actions raise KeyError."""
    if action in ALIASES:
        params = {**params, "kind": ALIASES[action]}
        action = "fail_orders"
    if action == "wait_order_requests":
        waiting: Awaitable[None] = fake.wait_order_requests(
            int(params["count"]), float(params.get("within", 10.0))
        )
        await waiting
        return {"ok": True}
    result = CONTROLS[action](fake, params)
    return {"ok": True} if result is None else result
