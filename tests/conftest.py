"""Test fixtures: a real PostgreSQL (embedded by default, TEST_DATABASE_URL otherwise).

A fresh database `courier_hub_test_<random>` is created on that server and
migrated to head once per session; every test starts from empty tables. The
app runs in-process through httpx's ASGITransport with its real lifespan, and
connects as the unprivileged application role, exactly as in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings, get_settings
from app.core.db import migrate
from app.core.db.session import Database
from app.core.db.urls import normalize_async_url
from tests.sqlcapture import StatementLog

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


# No test process or worker it starts binds the worker's health port unless the test asks for one
# (a default 9100 would collide between tests and with anything else on the machine).
os.environ.setdefault("WORKER_HEALTH_PORT", "0")


def _redis_database_per_process() -> None:
    """Under pytest-xdist each process gets its own Redis database (REDIS_URL's, minus the worker's number), so
    one process's rate-limit counts and resets never reach another's (the limiter's keys are not per test)."""
    from urllib.parse import urlsplit, urlunsplit

    worker, url = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("REDIS_URL", "")
    if not (worker.startswith("gw") and url):
        return
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = (base - int(worker[2:])) % 16
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{database}"))


_redis_database_per_process()

def _server_url() -> URL:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return normalize_async_url(configured)
    import fcntl

    from app.core.db.embedded import start_embedded

    # pytest-xdist processes share one embedded server: the first one creates and starts it.
    (REPO_ROOT / ".data").mkdir(exist_ok=True)
    with open(REPO_ROOT / ".data" / "test-postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return normalize_async_url(start_embedded(REPO_ROOT / ".data" / "test-postgres"))


async def _admin_execute(server: URL, *statements: str) -> None:
    engine = create_async_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def app_sql() -> Iterator[StatementLog]:
    """Every statement the app role sends during the session; at the end each one on a tenant table must name its tenant.

    (Citus routes a statement to one shard only by `tenant_id = ...`, and refuses FOR UPDATE without it;
    the checker is tests/core/test_tenant_filters.py's `untied_tables`.)
    """
    log = StatementLog(os.environ.get("APP_DB_USER", "courier_hub_app"))
    log.install()
    yield log
    log.remove()
    from tests.core.test_tenant_filters import untied_tables

    from app.core.db.citus import CROSS_TENANT_MARK

    offenders = {
        sql: problems
        for sql in log.statements
        if CROSS_TENANT_MARK not in sql and (problems := untied_tables(sql))
    }
    from tests.db.test_citus_readiness import (
        ARRAY_CAST_OF_A_COLUMN,
        INSERT_SELECT_FROM_ONLY_A_FUNCTION,
        INSERT_SELECT_OF_A_PARAMETER_TENANT,
        NOT_IMMUTABLE,
        VOLATILE,
        _update_parts,
        do_update_parts,
    )

    for sql in log.statements:
        if any(VOLATILE.search(part) for part in _update_parts(sql)):
            offenders[sql] = ["UPDATE with a volatile function (refused on a distributed table)"]
        if INSERT_SELECT_FROM_ONLY_A_FUNCTION.search(sql):
            offenders[sql] = ["INSERT ... SELECT FROM a function alone (a COPY on Citus, refused under RLS): use VALUES"]
        if INSERT_SELECT_OF_A_PARAMETER_TENANT.search(sql):
            offenders[sql] = ["INSERT ... SELECT naming the tenant by a parameter (a COPY through the Citus coordinator, "
                              "refused under RLS): select the source rows' tenant_id"]
        if any(ARRAY_CAST_OF_A_COLUMN.search(part) for part in _update_parts(sql)):
            offenders[sql] = ["UPDATE SET with an array cast of a column (STABLE: refused on a distributed table)"]
        if any(NOT_IMMUTABLE.search(part) for part in do_update_parts(sql)):
            offenders[sql] = ["ON CONFLICT DO UPDATE SET with a non-IMMUTABLE function (refused on a distributed table)"]
    if offenders:
        report = "\n\n".join(f"{'; '.join(p)}\n    {' '.join(sql.split())}" for sql, p in offenders.items())
        pytest.fail(f"{len(offenders)} statements the app sent to tenant tables lack a tenant_id predicate:\n\n{report}")


@pytest.fixture(scope="session")
async def server_url() -> URL:
    """Owner URL of the test server's maintenance database."""
    return _server_url()


@pytest.fixture(scope="session")
async def create_database(server_url: URL) -> AsyncIterator[Callable[[], Awaitable[URL]]]:
    """Factory: a new empty database on the test server (dropped at session end)."""
    created: list[str] = []

    async def factory() -> URL:
        name = f"courier_hub_test_{uuid.uuid4().hex[:10]}"
        await _admin_execute(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return server_url.set(database=name)

    yield factory
    for name in created:
        await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def owner_url(server_url: URL, create_database: Callable[[], Awaitable[URL]]) -> URL:
    """The session's migrated test database, as the owner."""
    url = await create_database()
    # Roles are cluster-wide: parallel test processes (pytest-xdist) on one server migrate one at a time.
    engine = create_async_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(7243001)"))
            try:
                migrate.upgrade(url)
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(7243001)"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def settings(owner_url: URL) -> Settings:
    """Settings pointing at the test database (also exported as DATABASE_URL for code that reads the env)."""
    rendered = owner_url.render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = rendered
    get_settings.cache_clear()
    from cryptography.fernet import Fernet

    return Settings(
        database_url=rendered,
        environment="test",
        max_body_bytes=256 * 1024,
        credentials_encryption_keys=Fernet.generate_key().decode(),  # a fresh key per test session
    )


@pytest.fixture(scope="session")
async def _owner_db_session(owner_url: URL) -> AsyncIterator[Database]:
    db = Database(owner_url, pool_size=2, max_overflow=2)
    yield db
    await db.dispose()


@pytest.fixture
async def owner_db(_owner_db_session: Database) -> AsyncIterator[Database]:
    """The owner's connection, for arranging and inspecting rows behind the API's back.

    Every table is emptied after the test, except reference data the migrations seed (`plans`).
    """
    yield _owner_db_session
    async with _owner_db_session.transaction() as session:
        tables = (
            await session.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('alembic_version', 'plans')"
                )
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            await session.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(scope="session")
async def app_db(settings: Settings, app_sql: StatementLog) -> AsyncIterator[Database]:
    """The application role's connection (RLS applies), for tests' own statements (not checked by `app_sql`)."""
    db = Database.from_settings(settings)
    app_sql.ignore(db.engine)
    yield db
    await db.dispose()


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Any]:
    """The FastAPI app built from `settings`, its lifespan running."""
    from app.main import create_app

    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@asynccontextmanager
async def client_of(application: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process HTTP client of `application`, its rate-limit counts reset first."""
    application.state.rate_limiter.reset()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The FastAPI app with its lifespan running."""
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: Any, owner_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (rate-limit counts reset first)."""
    async with client_of(app) as c:
        yield c


@dataclass
class TenantKeys:
    """A tenant created through the API with one key per role."""

    id: uuid.UUID
    slug: str
    admin: str
    merchant: str
    courier: str

    def headers(self, role: str = "merchant", **extra: str) -> dict[str, str]:
        """Authorization header for this tenant's `role` key, plus `extra` headers."""
        return {"Authorization": f"Bearer {getattr(self, role)}", **extra}


@pytest.fixture
async def admin_key(owner_db: Database) -> str:
    """A platform-admin key (as the CLI would create it)."""
    from app.auth.service import issue_platform_admin_key

    async with owner_db.transaction() as session:
        _, key = await issue_platform_admin_key(session=session, name="tests")
    return key


@pytest.fixture
def admin_headers(admin_key: str) -> dict[str, str]:
    """Authorization header of the platform admin."""
    return {"Authorization": f"Bearer {admin_key}"}


@pytest.fixture
def make_tenant(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Callable[[str], Awaitable[TenantKeys]]:
    """Factory: create a tenant through the API and issue a tenant_admin, merchant and courier key."""

    async def factory(slug: str) -> TenantKeys:
        response = await client.post("/v1/tenants", json={"name": slug.title(), "slug": slug}, headers=admin_headers)
        assert response.status_code == 201, response.text
        tenant_id = response.json()["id"]
        keys = {}
        for role in ("tenant_admin", "merchant", "courier"):
            r = await client.post(
                f"/v1/tenants/{tenant_id}/api-keys", json={"name": f"{role} key", "role": role}, headers=admin_headers
            )
            assert r.status_code == 201, r.text
            keys[role] = r.json()["key"]
        return TenantKeys(
            id=uuid.UUID(tenant_id), slug=slug, admin=keys["tenant_admin"], merchant=keys["merchant"], courier=keys["courier"]
        )

    return factory


def shared_sample(*parts: str) -> Path:
    """Path of a file in ../shared (skips the test when the folder is not there)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared sample {path} is not available")
    return path
