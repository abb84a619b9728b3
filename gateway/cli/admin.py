"""Admin commands that work on the database directly: keys and credits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import typer

import billing
from billing import credits, millicredits
from gateway.cli.environment import settings_from_env
from gateway.engine.db import Database, upgrade
from gateway.engine.keys import KeyBudgets, create_key, key_budgets, list_keys, revoke_key, set_key_budgets

keys_app = typer.Typer(help="Create, list and revoke API keys; set their budgets.", no_args_is_help=True)
credits_app = typer.Typer(help="Grant credits and show balances.", no_args_is_help=True)
ledger_app = typer.Typer(help="Check the credit ledger.", no_args_is_help=True)


def open_db() -> Database:
    settings = settings_from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url(), pool_size=2)
    upgrade(db)
    return db


def utc_time(ts: float | None) -> str:
    """A timestamp as the CLI prints it (UTC), or ``-``."""
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@keys_app.command("create")
def keys_create(
    account: str = typer.Option(..., help="account name (created if it does not exist)"),
    credits_: float = typer.Option(0, "--credits", min=0, help="credits to grant the account now"),
    name: str | None = typer.Option(None, help="a label for the key"),
    daily_budget: float | None = typer.Option(None, min=0, help="credits this key may spend per UTC day"),
    monthly_budget: float | None = typer.Option(None, min=0, help="credits this key may spend per UTC month"),
) -> None:
    """Create an API key and print it. It is shown only this once."""
    db = open_db()
    with db.write() as conn:
        account_id = billing.ensure_account(conn, account)
        if credits_ > 0:
            billing.grant(conn, account_id, millicredits(credits_))
        key = create_key(conn, account_id, name)
        set_key_budgets(conn, key.id, KeyBudgets(_cap(daily_budget), _cap(monthly_budget)))
        balance = billing.get_balance(conn, account_id)
    typer.echo(key.secret)
    typer.echo(
        f"key {key.id} for account {account!r}; balance {_shown(balance.balance_mc)} credits. "
        "Store the key now: it cannot be shown again.",
        err=True,
    )


@keys_app.command("list")
def keys_list(account: str | None = typer.Option(None, help="only this account's keys")) -> None:
    """List keys (never their secrets)."""
    db = open_db()
    with db.read() as conn:
        account_id = billing.find_account(conn, account) if account else None
        if account and account_id is None:
            raise typer.BadParameter(f"no account named {account!r}", param_hint="--account")
        rows = list_keys(conn, account_id)
    typer.echo(f"{'ID':<22} {'PREFIX':<16} {'ACCOUNT':<30} {'CREATED':<20} REVOKED")
    for row in rows:
        typer.echo(
            f"{row['id']:<22} {row['prefix'] + '...':<16} {row['account_id']:<30} "
            f"{utc_time(row['created_at']):<20} {utc_time(row['revoked_at'])}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="the key's id (key_...)")) -> None:
    """Revoke a key: every gateway process refuses it from its next request on."""
    db = open_db()
    with db.write() as conn:
        if not revoke_key(conn, key_id):
            typer.echo(f"no active key {key_id!r}", err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def _shown(amount_mc: int) -> str:
    """Credits to the millicredit, as the API shows them (``1378.932``, ``1000``): never rounded off."""
    return f"{credits(amount_mc):.3f}".rstrip("0").rstrip(".")


def _cap(value: float | None) -> int | None:
    """A cap in credits as millicredits; 0 (or none given) means no cap."""
    return millicredits(value) if value else None


@keys_app.command("budget")
def keys_budget(
    key_id: str = typer.Argument(..., help="the key's id (key_...)"),
    daily: float | None = typer.Option(None, min=0, help="credits per UTC day (0 removes the cap)"),
    monthly: float | None = typer.Option(None, min=0, help="credits per UTC month (0 removes the cap)"),
) -> None:
    """Set or remove a key's daily and monthly spending caps."""
    db = open_db()
    with db.write() as conn:
        budgets = key_budgets(conn, key_id)
        if budgets is None:
            typer.echo(f"no key {key_id!r}", err=True)
            raise typer.Exit(1)
        budgets = KeyBudgets(
            budgets.daily_mc if daily is None else _cap(daily),
            budgets.monthly_mc if monthly is None else _cap(monthly),
        )
        set_key_budgets(conn, key_id, budgets)
        budgets = key_budgets(conn, key_id) or budgets  # what is now stored
    show: Callable[[int | None], str] = lambda mc: "none" if mc is None else f"{_shown(mc)}"  # noqa: E731
    typer.echo(f"{key_id}: daily budget {show(budgets.daily_mc)}, monthly budget {show(budgets.monthly_mc)}")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant; exit 1 and list the problems if any is broken."""
    db = open_db()
    with db.snapshot() as conn:
        problems = billing.verify_ledger(conn)
    if problems:
        for problem in problems:
            typer.echo(f"BROKEN: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo("ledger OK: every transfer sums to zero, balances match their entries, holds match reserves")


@credits_app.command("grant")
def credits_grant(
    account: str = typer.Option(..., help="account name"),
    amount: float = typer.Option(..., min=0.001, help="credits to add"),
) -> None:
    """Add credits to an account."""
    db = open_db()
    with db.write() as conn:
        account_id = billing.find_account(conn, account)
        if account_id is None:
            typer.echo(f"no account named {account!r} (create one with 'framegate keys create')", err=True)
            raise typer.Exit(1)
        billing.grant(conn, account_id, millicredits(amount))
        balance = billing.get_balance(conn, account_id)
    typer.echo(
        f"{account}: balance {_shown(balance.balance_mc)}, held {_shown(balance.held_mc)}, "
        f"available {_shown(balance.available_mc)} credits"
    )


@credits_app.command("show")
def credits_show(account: str = typer.Option(..., help="account name")) -> None:
    """Show an account's balance."""
    db = open_db()
    with db.read() as conn:
        account_id = billing.find_account(conn, account)
        if account_id is None:
            typer.echo(f"no account named {account!r}", err=True)
            raise typer.Exit(1)
        balance = billing.get_balance(conn, account_id)
    typer.echo(
        f"{account}: balance {_shown(balance.balance_mc)}, held {_shown(balance.held_mc)}, "
        f"available {_shown(balance.available_mc)} credits"
    )
