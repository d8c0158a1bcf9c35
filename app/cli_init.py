"""`courier-hub init`: write a `.env` with generated secrets for docker-compose (and any deployment reading .env)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from enum import Enum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer


class InitEnvironment(str, Enum):
    """The ENVIRONMENT written by `courier-hub init`."""

    production = "production"
    development = "development"


def render_env(*, environment: str, public_base_url: str, trusted_proxies: str = "") -> str:
    """The text of a new `.env`: fresh secrets, nothing development-only.

    Generated: POSTGRES_PASSWORD (the owner role of the compose database), APP_DB_PASSWORD
    (the application role), CREDENTIALS_ENCRYPTION_KEYS (one Fernet key). WEBHOOK_SECRET and
    WEBHOOK_DEV_ALLOWED_HOSTS stay unset: production refuses them.
    """
    from cryptography.fernet import Fernet

    lines = [
        "# Written by `courier-hub init`. Keep it secret (mode 0600); never commit it.",
        "# docker compose reads it for ${...} in docker-compose.yml and passes it to every service.",
        f"ENVIRONMENT={environment}",
        f"PUBLIC_BASE_URL={public_base_url}",
        f"TRUSTED_PROXIES={trusted_proxies}",
        "",
        "# Database roles of the compose PostgreSQL: the owner (migrations) and the application role (API, worker).",
        f"POSTGRES_PASSWORD={secrets.token_urlsafe(32)}",
        f"APP_DB_PASSWORD={secrets.token_urlsafe(32)}",
        "",
        "# Fernet keys for secrets at rest, newest first. Back this up: stored credentials cannot be read without it.",
        f"CREDENTIALS_ENCRYPTION_KEYS={Fernet.generate_key().decode()}",
        "",
        "# Signing key of recipient review links (POST /v1/shipments/{id}/review-links).",
        f"REVIEW_LINK_SECRET={secrets.token_urlsafe(48)}",
        "",
        "# Development-only fallbacks stay unset (ENVIRONMENT=production refuses them):",
        "# WEBHOOK_SECRET=",
        "# WEBHOOK_DEV_ALLOWED_HOSTS=",
        "",
        "# Billing (optional): STRIPE_API_KEY=sk_live_... STRIPE_WEBHOOK_SECRET=whsec_...",
        "",
    ]
    return "\n".join(lines)


def init_command(
    path: Annotated[Path, typer.Option("--path", help="Where to write the file.")] = Path(".env"),
    environment: Annotated[
        InitEnvironment, typer.Option("--environment", help="ENVIRONMENT to write (production needs an https URL).")
    ] = InitEnvironment.production,
    public_base_url: Annotated[
        str, typer.Option("--public-base-url", help="The API's public origin (PUBLIC_BASE_URL), https in production.")
    ] = "http://localhost:8000",
    trusted_proxies: Annotated[
        str, typer.Option("--trusted-proxies", help="TRUSTED_PROXIES: CIDRs of your reverse proxies (comma-separated).")
    ] = "",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a `.env` with generated secrets (database passwords, a credentials encryption key) for `docker compose up`.

    Exit 1 when the file exists (without --force); exit 2 for settings production would refuse.
    """
    scheme = urlsplit(public_base_url).scheme.lower()
    if scheme not in ("http", "https") or not urlsplit(public_base_url).netloc:
        typer.echo(f"init: --public-base-url must be an absolute http(s) URL, not {public_base_url!r}", err=True)
        raise typer.Exit(code=2)
    if environment is InitEnvironment.production and scheme != "https":
        typer.echo(
            "init: production needs an https --public-base-url (e.g. https://api.example.com); "
            "for a local stack pass --environment development",
            err=True,
        )
        raise typer.Exit(code=2)
    for item in (part.strip() for part in trusted_proxies.split(",")):
        try:
            if item:
                ipaddress.ip_network(item, strict=False)
        except ValueError:
            typer.echo(f"init: --trusted-proxies: {item!r} is not an IP address or CIDR", err=True)
            raise typer.Exit(code=2) from None
    if path.exists() and not force:
        typer.echo(f"init: {path} exists; not overwriting it (pass --force to replace it)", err=True)
        raise typer.Exit(code=1)
    text = render_env(environment=environment.value, public_base_url=public_base_url.rstrip("/"), trusted_proxies=trusted_proxies)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)
    typer.echo(f"wrote {path} ({environment.value}, PUBLIC_BASE_URL={public_base_url.rstrip('/')}) with generated secrets")
