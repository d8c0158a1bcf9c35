"""`courier-hub labels batch FILE.csv`: book a CSV of recipients as one label batch through the API, with a progress bar.

The command is a client of the HTTP API (`POST /v1/label-batches`, then
`GET /v1/label-batches/{id}` until it completes, then the merged documents),
so it works against any courier-hub with a merchant key. The batch's
Idempotency-Key is derived from the file and the options: running the same
command again follows the same batch instead of booking anew.

The CSV's columns are those of `app.labels.batch_csv` (shared with the console's upload).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.labels.batch_csv import CsvError, batch_key, read_items

__all__ = ["CsvError", "batch_key", "labels_app", "read_items", "run_batch"]

labels_app = typer.Typer(help="Labels: book batches of labels from a CSV file.", no_args_is_help=True)

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class BatchResult:
    """How a batch ended: its id, counts, the merged file written (if any) and the failed items."""

    batch_id: str
    booked: int
    failed: int
    output: Path | None
    failures: list[dict[str, Any]]


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    detail = body.get("detail") or body.get("title") or response.text[:300]
    errors = body.get("errors") or []
    lines = [f"HTTP {response.status_code} {body.get('type', '')}: {detail}"]
    lines += [f"  {'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in errors[:20]]
    return "\n".join(lines)


async def run_batch(
    *,
    client: httpx.AsyncClient,
    items: list[dict[str, Any]],
    output: Path | None,
    label_format: str,
    console: Console,
    poll_seconds: float = POLL_SECONDS,
) -> BatchResult:
    """Queue `items` as one batch through `client` (base URL + merchant key set), show progress until it completes,
    then write every label into `output`. Raises typer.Exit(2) with the API's problem when the batch is refused."""
    created = await client.post("/v1/label-batches", json={"items": items}, headers={"Idempotency-Key": batch_key(items)})
    if created.status_code not in (200, 201, 202):
        console.print(f"[red]The batch was refused.[/red]\n{_problem_text(created)}")
        raise typer.Exit(2)
    batch = created.json()
    with Progress(
        TextColumn("[bold]labels"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        task = progress.add_task("book", total=batch["total"], state="queued")
        while True:
            counts = batch["counts"]
            progress.update(
                task, completed=counts["booked"] + counts["failed"],
                state=f"{counts['booked']} booked, {counts['failed']} failed",
            )
            if batch["status"] == "completed":
                break
            await asyncio.sleep(poll_seconds)
            polled = await client.get(f"/v1/label-batches/{batch['id']}")
            if polled.status_code != 200:
                console.print(f"[red]Could not follow the batch.[/red]\n{_problem_text(polled)}")
                raise typer.Exit(2)
            batch = polled.json()
    written: Path | None = None
    if batch["counts"]["booked"] and output is not None:
        merged = await client.get(f"/v1/label-batches/{batch['id']}/documents", params={"format": label_format})
        if merged.status_code == 200:
            output.write_bytes(merged.content)
            written = output
            console.print(f"Wrote {merged.headers.get('x-label-count', '?')} labels to {output}")
        else:
            console.print(f"[yellow]No merged file:[/yellow] {_problem_text(merged)}")
    failures = [item for item in batch["items"] if item["status"] == "failed"]
    for item in failures:
        error = item.get("error") or {}
        console.print(f"[red]failed[/red] {item['reference']}: {error.get('type', '')} {error.get('detail', '')}")
    return BatchResult(batch["id"], batch["counts"]["booked"], batch["counts"]["failed"], written, failures)


@labels_app.command("batch")
def batch(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV of recipients (see --help).")],
    carrier: Annotated[str, typer.Option(help="Carrier code, e.g. fedex, ups, dhl, postnord, bring.")],
    service: Annotated[str, typer.Option(help="The carrier's service code (GET /v1/carriers).")],
    shipper: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="JSON file with the shipper address.")],
    label_format: Annotated[str, typer.Option("--label-format", help="pdf or zpl.")] = "pdf",
    integration_id: Annotated[str | None, typer.Option(help="Which integration, when the tenant has several.")] = None,
    output: Annotated[Path | None, typer.Option(help="Where to write the merged labels (default: FILE with .pdf/.zpl).")] = None,
    api_url: Annotated[str, typer.Option(envvar="COURIER_HUB_API_URL", help="The API's base URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str, typer.Option(envvar="COURIER_HUB_API_KEY", help="A merchant or tenant-admin API key.")] = "",
) -> None:
    """Book every row of FILE as one label batch and write all labels into one file for the label printer.

    CSV columns: reference (unique), name, company, address_line1..3, city, postal_code, state, country,
    phone, email, weight_grams, length_mm, width_mm, height_mm, service_point_id, order_id. Running the
    same command again follows the same batch. Exit status: 0 all booked, 1 some failed, 2 refused.
    """
    console = Console(stderr=True)
    if label_format not in ("pdf", "zpl"):
        raise typer.BadParameter("must be pdf or zpl", param_hint="--label-format")
    if not api_key:
        raise typer.BadParameter("set COURIER_HUB_API_KEY or pass --api-key", param_hint="--api-key")
    try:
        shipper_address = json.loads(shipper.read_text(encoding="utf-8"))
        items = read_items(
            file.read_text(encoding="utf-8-sig"), carrier=carrier, service=service, shipper=shipper_address,
            label_format=label_format, integration_id=integration_id,
        )
    except CsvError as exc:
        for problem in exc.problems:
            console.print(f"[red]{file}[/red] {problem}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        console.print(f"[red]{shipper}[/red] is not JSON: {exc}")
        raise typer.Exit(2) from None

    async def run() -> BatchResult:
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "courier-hub-cli"}
        timeout = httpx.Timeout(60.0, connect=10.0)
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=timeout) as client:
            return await run_batch(
                client=client, items=items, output=output or file.with_suffix(f".{label_format}"),
                label_format=label_format, console=console,
            )

    result = asyncio.run(run())
    console.print(f"batch {result.batch_id}: {result.booked} booked, {result.failed} failed")
    raise typer.Exit(1 if result.failed else 0)
