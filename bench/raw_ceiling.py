"""The raw ceiling: a minimal FastAPI endpoint that inserts one row with asyncpg and commits.

Run by the benchmark as a separate uvicorn process on the same database server, so that
intake's registration rate can be read as a fraction of what the stack itself allows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

DSN = os.environ["BENCH_DSN"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(DSN, min_size=10, max_size=10)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, body jsonb NOT NULL)"
    )
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/rows", status_code=201)
async def insert_row(request: Request) -> dict[str, str]:
    body = await request.body()
    row_id = uuid.uuid4()
    async with request.app.state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO bench_rows (id, body) VALUES ($1, $2::jsonb)", row_id, body.decode()
        )
    return {"id": str(row_id)}
