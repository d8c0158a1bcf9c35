"""Lightspeed Retail (R-Series, ex-MerchantOS) sales: the API `Sale` object.

Format source: Lightspeed Retail API (api.lightspeedapp.com/API/Account/{id}/Sale),
as recorded from a sandbox by the public Ruby client marketplacer/lightspeed_pos
(spec/fixtures/vcr_cassettes/account/Sales/create.yml and update.yml). R-Series
has no sale webhook, so these bodies come from polling the API.

Every value is a string. `Sale.SaleLines.SaleLine` is an object for one line
and a list for several. `calc*` fields are unrounded computations
("2.6814") and are rounded half-up to minor units. A Sale carries no currency
(it is the account's): the caller sends it in the ``X-Pos-Currency`` header.
Names, SKUs and the ship-to address appear only when the API is asked for the
relations (``load_relations=["SaleLines.Item","ShipTo","ShipTo.Contact","Customer"]``);
those relation shapes follow the R-Series API reference and no recorded sample
with them was available.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.pos.canonical import CanonicalOrder, PayloadError
from app.pos.sources._fields import (
    build_order,
    country_code,
    currency_code,
    header,
    join_text,
    money,
    one_or_many,
    optional_dict,
    quantity,
    require_dict,
    require_id,
    rounded_money,
    text,
    timestamp,
)

SOURCE = "lightspeed"
CURRENCY_HEADER = "x-pos-currency"


def _unwrap(payload: Any) -> dict[str, Any]:
    body = require_dict(payload, "lightspeed: body")
    if "Sale" not in body:
        return body  # a bare Sale object
    sales = one_or_many(body["Sale"], "lightspeed: Sale")
    if len(sales) != 1:
        raise PayloadError(f"lightspeed: expected one Sale per request, got {len(sales)}")
    return require_dict(sales[0], "lightspeed: Sale")


def _related_id(value: Any, field: str) -> str | None:
    # R-Series uses "0" for "no related record".
    found = text(value, field)
    return None if found in (None, "0") else found


def _relation(value: Any, field: str) -> dict[str, Any]:
    # R-Series renders an empty relation as "" rather than null.
    return optional_dict(None if value == "" else value, field) or {}


def _first(container: Any, key: str, field: str) -> dict[str, Any]:
    # Contact.Addresses.ContactAddress etc.: object for one entry, list for several.
    holder = _relation(container, field)
    entries = one_or_many(holder.get(key), f"{field}.{key}")
    return require_dict(entries[0], f"{field}.{key}[0]") if entries else {}


def _line_item(raw: Any, index: int, currency: str) -> dict[str, Any]:
    field = f"lightspeed: SaleLines.SaleLine[{index}]"
    line = require_dict(raw, field)
    item = _relation(line.get("Item"), f"{field}.Item")
    item_id = _related_id(line.get("itemID"), f"{field}.itemID")
    name = text(item.get("description"), f"{field}.Item.description")
    return {
        "external_id": text(line.get("saleLineID"), f"{field}.saleLineID"),
        "sku": text(item.get("customSku"), f"{field}.Item.customSku")
        or text(item.get("systemSku"), f"{field}.Item.systemSku"),
        # Without the SaleLines.Item relation the sale only names the item by id.
        "name": name or (f"Item {item_id}" if item_id else "Miscellaneous"),
        "quantity": quantity(line.get("unitQuantity"), f"{field}.unitQuantity"),
        "unit_price": money(line.get("unitPrice"), currency, f"{field}.unitPrice"),
        "total": rounded_money(line.get("calcTotal"), currency, f"{field}.calcTotal"),
    }


def _ship_to(sale: dict[str, Any]) -> dict[str, Any] | None:
    ship_to = _relation(sale.get("ShipTo"), "lightspeed: ShipTo")
    if not ship_to:
        return None
    field = "lightspeed: ShipTo"
    contact = _relation(ship_to.get("Contact"), f"{field}.Contact")
    address = _first(contact.get("Addresses"), "ContactAddress", f"{field}.Contact.Addresses")
    phone = _first(contact.get("Phones"), "ContactPhone", f"{field}.Contact.Phones")
    email = _first(contact.get("Emails"), "ContactEmail", f"{field}.Contact.Emails")
    a = f"{field}.Contact.Addresses.ContactAddress"
    return {
        "name": join_text(text(ship_to.get("firstName"), f"{field}.firstName"),
                          text(ship_to.get("lastName"), f"{field}.lastName")),
        "company": text(ship_to.get("company"), f"{field}.company"),
        "line1": text(address.get("address1"), f"{a}.address1"),
        "line2": text(address.get("address2"), f"{a}.address2"),
        "city": text(address.get("city"), f"{a}.city"),
        "region": text(address.get("stateCode"), f"{a}.stateCode") or text(address.get("state"), f"{a}.state"),
        "postal_code": text(address.get("zip"), f"{a}.zip"),
        "country": country_code(address.get("countryCode"), f"{a}.countryCode"),
        "phone": text(phone.get("number"), f"{field}.Contact.Phones.ContactPhone.number"),
        "email": text(email.get("address"), f"{field}.Contact.Emails.ContactEmail.address"),
    }


def _customer(sale: dict[str, Any]) -> dict[str, Any] | None:
    customer_id = _related_id(sale.get("customerID"), "lightspeed: customerID")
    data = _relation(sale.get("Customer"), "lightspeed: Customer")
    contact = _relation(data.get("Contact"), "lightspeed: Customer.Contact")
    email = _first(contact.get("Emails"), "ContactEmail", "lightspeed: Customer.Contact.Emails")
    customer = {
        "external_id": customer_id,
        "name": join_text(text(data.get("firstName"), "lightspeed: Customer.firstName"),
                          text(data.get("lastName"), "lightspeed: Customer.lastName")),
        "email": text(email.get("address"), "lightspeed: Customer.Contact.Emails.ContactEmail.address"),
    }
    return customer if any(value is not None for value in customer.values()) else None


def map_order(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    """Map a Lightspeed R-Series Sale (API response ``{"Sale": {...}}`` or the bare Sale) to a CanonicalOrder.

    Currency comes from the ``x-pos-currency`` header (ISO 4217; a Sale has
    none). external_id = `saleID` (scope it by account), order_number =
    `ticketNumber`, placed_at = `completeTime`/`createTime`/`timeStamp`.
    Money in minor units: total = `total`, subtotal = `calcSubtotal`,
    tax_total = `taxTotal`, discount_total = `calcDiscount`; per line
    unit_price = `unitPrice`, total = `calcTotal` (incl. tax, rounded half-up).
    Line name/SKU from the `Item` relation when loaded, else "Item <itemID>".
    Raises PayloadError when the currency header is missing, for a
    non-object body, several sales, missing `saleID`/`total`, fractional or
    negative quantities, or any malformed field.
    """
    sale = _unwrap(payload)
    external_id = require_id(sale.get("saleID"), "lightspeed: saleID")
    raw_currency = header(headers, CURRENCY_HEADER)
    if raw_currency is None:
        raise PayloadError(
            "lightspeed: R-Series sales carry no currency; send the account's ISO 4217 currency "
            "in the X-Pos-Currency header"
        )
    currency = currency_code(raw_currency, "lightspeed: X-Pos-Currency header")
    placed_at = None
    for key in ("completeTime", "createTime", "timeStamp"):
        placed_at = timestamp(sale.get(key), f"lightspeed: {key}")
        if placed_at is not None:
            break
    lines_holder = _relation(sale.get("SaleLines"), "lightspeed: SaleLines")
    lines = one_or_many(lines_holder.get("SaleLine"), "lightspeed: SaleLines.SaleLine")

    def optional_calc(key: str) -> int | None:
        return None if sale.get(key) is None else rounded_money(sale[key], currency, f"lightspeed: {key}")

    return build_order(
        SOURCE,
        external_id=external_id,
        order_number=text(sale.get("ticketNumber"), "lightspeed: ticketNumber"),
        placed_at=placed_at,
        currency=currency,
        customer=_customer(sale),
        shipping_address=_ship_to(sale),
        line_items=[_line_item(raw, i, currency) for i, raw in enumerate(lines)],
        subtotal=optional_calc("calcSubtotal"),
        tax_total=optional_calc("taxTotal"),
        discount_total=optional_calc("calcDiscount"),
        total=money(sale.get("total"), currency, "lightspeed: total"),
    )
