"""`courier-hub labels batch FILE.csv`: the CSV read field by field, and a run through the API with the worker booking."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import respx
from pypdf import PdfReader
from rich.console import Console
from typer.testing import CliRunner

from app.cli import app as cli
from app.cli_labels import CsvError, batch_key, read_items, run_batch
from tests.labels.test_batches import FedexShip, booker, on_growth_plan
from tests.labels.test_labels import SHIP, connect, serve_token

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHIPPER = json.loads((EXAMPLES / "shipper.json").read_text())


def test_the_sample_csv_becomes_one_booking_per_row() -> None:
    items = read_items((EXAMPLES / "label-batch.csv").read_text(), carrier="fedex", service="FEDEX_GROUND",
                       shipper=SHIPPER, label_format="pdf")
    assert [item["reference"] for item in items] == ["order-1001", "order-1002", "order-1003"]
    first, second = items[0], items[1]
    assert first["recipient"]["address_lines"] == ["1 Main St", "Apt 2"] and first["recipient"]["state"] == "NY"
    assert first["parcels"] == [{"weight_grams": 2300, "length_mm": 300, "width_mm": 200, "height_mm": 100}]
    assert second["parcels"] == [{"weight_grams": 900}] and "email" not in second["recipient"]
    assert first["shipper"] == SHIPPER and first["carrier"] == "fedex" and first["service"] == "FEDEX_GROUND"
    assert batch_key(items) == batch_key(read_items((EXAMPLES / "label-batch.csv").read_text(), carrier="fedex",
                                                    service="FEDEX_GROUND", shipper=SHIPPER, label_format="pdf"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("reference,name,city,country,weight_grams\nr,n,c,US,1\n", "missing column(s) address_line1"),
        ("reference,name,address_line1,city,country,weight_grams,colour\n", "unknown column(s) colour"),
        ("reference,name,address_line1,city,country,weight_grams\nr,n,a,c,US,heavy\n", "line 2: weight_grams must be a whole number"),
        ("reference,name,address_line1,city,country,weight_grams\n,n,a,c,US,1\n", "line 2: reference is empty"),
        ("reference,name,address_line1,city,country,weight_grams\n", "no rows"),
    ],
)
def test_a_bad_csv_names_its_lines(text: str, problem: str) -> None:
    with pytest.raises(CsvError) as info:
        read_items(text, carrier="fedex", service="FEDEX_GROUND", shipper=SHIPPER, label_format="pdf")
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_the_command_refuses_a_bad_csv_before_calling_the_api(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,name,address_line1,city,country,weight_grams\nr,n,a,c,US,heavy\n")
    result = CliRunner().invoke(
        cli, ["labels", "batch", str(bad), "--carrier", "fedex", "--service", "FEDEX_GROUND",
              "--shipper", str(EXAMPLES / "shipper.json"), "--api-key", "chub_x", "--api-url", "http://127.0.0.1:9"],
    )
    assert result.exit_code == 2
    assert "weight_grams must be a whole number" in result.output


async def test_a_csv_batch_shows_progress_and_writes_one_merged_pdf(client, make_tenant, app, owner_db, tmp_path):
    acme = await make_tenant("acme")
    await on_growth_plan(owner_db, acme.id)
    await connect(client, acme)
    items = read_items((EXAMPLES / "label-batch.csv").read_text(), carrier="fedex", service="FEDEX_GROUND",
                       shipper=SHIPPER, label_format="pdf")
    client.headers.update(acme.headers())
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    fedex = FedexShip()
    worker = booker(app)
    stop = asyncio.Event()
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        working = asyncio.create_task(worker.run(stop))
        try:
            result = await asyncio.wait_for(
                run_batch(client=client, items=items, output=tmp_path / "labels.pdf", label_format="pdf",
                          console=console, poll_seconds=0.05),
                timeout=60,
            )
        finally:
            stop.set()
            await working
    assert (result.booked, result.failed, fedex.calls) == (3, 0, 3)
    assert result.output == tmp_path / "labels.pdf" and result.output.read_bytes().startswith(b"%PDF")
    assert len(PdfReader(result.output).pages) >= 3
    shown = out.getvalue()
    assert "3/3" in shown and "3 booked, 0 failed" in shown and "Wrote 3 labels" in shown
