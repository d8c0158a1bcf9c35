"""DHL Parcel DE Shipping v2: what DHL would refuse, checked before any call (pure functions).

Rules from `openapi-parcel-de-shipping-v2.yaml` (`Shipper`, `ContactAddress`,
`Locker`, `PostOffice`, `Weight`, `Dimensions`, `CustomsDetails`, `Product`)
and the product terms noted in `units.PARCEL_DE_PRODUCTS`; the request
mapping they protect is `app.carriers.dhl.parcel_de`.
"""

from __future__ import annotations

from app.carriers.dhl.credentials import ParcelDeCredentials
from app.carriers.dhl.parcel_de import MAX_SHIPMENTS, POSTAL_CODE, post_number, service_point
from app.carriers.money import minor_to_amount
from app.carriers.dhl.units import ALPHA3, PARCEL_DE_PRODUCTS
from app.carriers.shipping import EU_COUNTRIES, Address, Customs, FieldError, ShipmentRequest, needs_customs


def _fits(errors: list[FieldError], field: str, value: str | None, limit: int, what: str) -> None:
    if value is not None and len(value) > limit:
        errors.append(FieldError(f"{what} is at most {limit} characters for DHL Parcel DE", field))


def _validate_address(errors: list[FieldError], prefix: str, address: Address, *, consignee: bool) -> None:
    if address.country not in ALPHA3:
        errors.append(FieldError(f"country {address.country} is not served by DHL Parcel DE", f"{prefix}.country"))
    _fits(errors, f"{prefix}.name", address.name, 50, "name")
    _fits(errors, f"{prefix}.company", address.company, 50, "company")
    _fits(errors, f"{prefix}.city", address.city, 40, "city")
    _fits(errors, f"{prefix}.address_lines.0", address.address_lines[0], 50, "the first address line")
    if consignee:
        for index, line in enumerate(address.address_lines[1:], start=1):
            _fits(errors, f"{prefix}.address_lines.{index}", line, 60, "an additional address line")
        _fits(errors, f"{prefix}.state", address.state, 20, "state")
        if address.phone and address.country != "DE":
            _fits(errors, f"{prefix}.phone", address.phone, 20, "phone")
    else:
        _fits(errors, f"{prefix}.address_lines", " ".join(address.address_lines[1:]) or None, 50,
              "address lines 2-3 together")  # fmt: skip
    if address.email is not None and len(address.email) < 3:
        errors.append(FieldError("email is 3-80 characters for DHL Parcel DE", f"{prefix}.email"))
    _fits(errors, f"{prefix}.email", address.email, 80, "email")
    if address.postal_code:
        if not (3 <= len(address.postal_code) <= 10) or not POSTAL_CODE.match(address.postal_code):
            errors.append(FieldError("postal code must be 3-10 letters/digits (spaces or '-' between)",
                                     f"{prefix}.postal_code"))  # fmt: skip
    elif address.country == "DE":
        errors.append(FieldError("a German address needs a postal code", f"{prefix}.postal_code"))


def _validate_customs(errors: list[FieldError], customs: Customs) -> None:
    currencies = {item.currency for item in customs.items}
    if len(currencies) > 1:
        errors.append(FieldError("DHL Parcel DE needs one currency for all customs items", "customs.items"))
    for index, item in enumerate(customs.items):
        if item.origin_country not in ALPHA3:
            errors.append(FieldError(f"unknown country {item.origin_country}", f"customs.items.{index}.origin_country"))
        if minor_to_amount(item.value, item.currency) > 100_000:
            errors.append(FieldError("DHL Parcel DE takes item values up to 100000", f"customs.items.{index}.value"))
        if item.hs_code and len(item.hs_code) > 11:
            errors.append(FieldError("hs_code is 6-11 digits for DHL Parcel DE", f"customs.items.{index}.hs_code"))
        if item.weight_grams > 31_500:
            errors.append(FieldError("DHL Parcel DE takes item weights up to 31500 g",
                                     f"customs.items.{index}.weight_grams"))  # fmt: skip


def validate(request: ShipmentRequest, credentials: ParcelDeCredentials) -> list[FieldError]:
    """Every reason DHL Parcel DE would refuse `request` that we can see, as FieldErrors (empty: bookable).

    Checks the product's lanes (from Germany; national products to Germany,
    international ones abroad, V54EPAK within the EU), the billing number,
    field lengths and postal codes of the spec's `Shipper`/`ContactAddress`,
    weights (spec max 31500 g, product max), dimensions (all or none), the
    drop point of `service_point_id`, and customs outside the EU customs union
    (one parcel per request then: the declaration is per shipment).
    """
    product = PARCEL_DE_PRODUCTS[request.service]
    errors: list[FieldError] = []
    if not credentials.billing_number(product.code):
        errors.append(FieldError(f"no billing number for {product.code} in credentials.parcel_de", "service"))
    if request.shipper.country != "DE":
        errors.append(FieldError("DHL Parcel DE ships from Germany only", "shipper.country"))
    if not product.international and request.recipient.country != "DE":
        errors.append(FieldError(f"{product.code} ({product.name}) delivers within Germany only; "
                                 "use V53WPAK or V66WPI abroad", "recipient.country"))  # fmt: skip
    if product.international and request.recipient.country == "DE":
        errors.append(FieldError(f"{product.code} ({product.name}) is international; use V01PAK within Germany",
                                 "recipient.country"))  # fmt: skip
    if product.code == "V54EPAK" and request.recipient.country not in EU_COUNTRIES:
        errors.append(FieldError("V54EPAK (DHL Europaket) delivers within the EU only", "recipient.country"))
    if len(request.parcels) > MAX_SHIPMENTS:
        errors.append(FieldError(f"DHL Parcel DE books at most {MAX_SHIPMENTS} parcels per order", "parcels"))
    _validate_address(errors, "shipper", request.shipper, consignee=False)
    _validate_address(errors, "recipient", request.recipient, consignee=True)
    for index, parcel in enumerate(request.parcels):
        if parcel.weight_grams > product.max_weight_grams:
            errors.append(FieldError(f"{product.code} carries at most {product.max_weight_grams} g per parcel",
                                     f"parcels.{index}.weight_grams"))  # fmt: skip
        dims = (parcel.length_mm, parcel.width_mm, parcel.height_mm)
        if any(d is not None for d in dims) and any(d is None for d in dims):
            for name, value in zip(("length_mm", "width_mm", "height_mm"), dims, strict=True):
                if value is None:
                    errors.append(FieldError("give length, width and height, or none of them",
                                             f"parcels.{index}.{name}"))  # fmt: skip
    if request.service_point_id:
        _validate_service_point(errors, request, product.international)
    if product.international and needs_customs(request.shipper.country, request.recipient.country):
        if request.customs is None:
            errors.append(FieldError(f"{product.code} to {request.recipient.country} needs a customs declaration",
                                     "customs"))  # fmt: skip
        else:
            _validate_customs(errors, request.customs)
            if len(request.parcels) > 1:
                errors.append(FieldError("DHL Parcel DE declares customs per shipment (one parcel each): "
                                         "book one parcel per request", "parcels"))  # fmt: skip
    return errors


def _validate_service_point(errors: list[FieldError], request: ShipmentRequest, international: bool) -> None:
    point = service_point(request.service_point_id or "")
    if international or request.recipient.country != "DE":
        errors.append(FieldError("DHL Parcel DE addresses Packstations, post offices and PO boxes in Germany "
                                 "only (V01PAK/V62KP)", "service_point_id"))  # fmt: skip
        return
    if point is None:
        errors.append(FieldError("give the drop point as 'Packstation 118', 'Postfiliale 518' or 'Postfach 12345'",
                                 "service_point_id"))  # fmt: skip
        return
    kind, number = point
    if kind == "locker" and not 100 <= number <= 999:
        errors.append(FieldError("a Packstation number is 100-999", "service_point_id"))
    if kind == "post_office" and not 401 <= number <= 999:
        errors.append(FieldError("a post office / Paketshop number is 401-999", "service_point_id"))
    if kind == "locker" and not post_number(request.recipient):
        errors.append(FieldError("a DHL Packstation needs the recipient's Postnummer (6-10 digits) in an address line",
                                 "recipient.address_lines"))  # fmt: skip
    if kind == "post_office" and not (post_number(request.recipient) or request.recipient.email):
        errors.append(FieldError("a DHL post office needs the recipient's Postnummer (in an address line) or email",
                                 "recipient.email"))  # fmt: skip


