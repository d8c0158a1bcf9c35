"""DHL code tables: tracking status codes and texts, bookable services of both booking APIs, countries.

Sources:

* tracking: DHL Shipment Tracking – Unified 1.4.1
  (`openapi-shipment-tracking-unified-1.4.1.yaml`, `supermodelIoLogisticsTrackingShipmentEvent.statusCode`);
* Parcel DE products: Parcel DE Shipping API v2.1.13 (`openapi-parcel-de-shipping-v2.yaml`,
  `components.schemas.Product`, `Shipment.billingNumber`, `Country`);
* Express products: DHL Express Global Product Codes as used by `productCode` of MyDHL API 3.1.1
  `POST /shipments` (the `mydhl-shipment-request-spec-example-*.json` samples use P and I).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.carriers.shipping import Service
from app.carriers.types import TrackingStatus

# --- tracking ---------------------------------------------------------------------------------------------------

STATUS_CODES: dict[str, TrackingStatus] = {
    "pre-transit": TrackingStatus.INFO_RECEIVED,
    "transit": TrackingStatus.IN_TRANSIT,
    "delivered": TrackingStatus.DELIVERED,
    "failure": TrackingStatus.EXCEPTION,
    "unknown": TrackingStatus.UNKNOWN,
}
"""DHL `statusCode` (the spec's whole enum) -> normalized status before the text refinement of `TEXT_RULES`."""

_ALL = frozenset(STATUS_CODES)
_NOT_DELIVERED = _ALL - {"delivered"}


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


TEXT_RULES: tuple[tuple[re.Pattern[str], TrackingStatus, frozenset[str]], ...] = (
    (  # back at the shipper: final
        _rx(
            r"(?<!being )(?<!be )returned to (the )?(shipper|sender)", r"delivered (back )?to (the )?(shipper|sender)",
            r"an den absender (zugestellt|zurückgegeben|ausgeliefert)", r"rücksendung .*zugestellt",
            r"retour(zending)? .*afzender (bezorgd|afgeleverd)",
        ),
        TrackingStatus.RETURNED,
        _ALL,
    ),
    (  # on its way back to the shipper: not final
        _rx(
            r"return(ing|ed)? to (the )?(shipper|sender|origin)", r"being returned", r"return to sender",
            r"rücksendung", r"rückversand", r"zurück an den absender", r"an den absender zurück",
            r"retour naar afzender", r"retour à l'expéditeur",
        ),
        TrackingStatus.RETURN_TO_SENDER,
        _NOT_DELIVERED,
    ),
    (
        _rx(
            r"shipment (was |has been )?cancel+ed", r"label (was |has been )?cancel+ed", r"order cancel+ed",
            r"(sendung|auftrag) (wurde )?storniert",
        ),
        TrackingStatus.CANCELLED,
        _NOT_DELIVERED,
    ),
    (
        _rx(
            r"out for delivery", r"with delivery courier", r"on (the )?vehicle for delivery",
            r"loaded (on|onto|into) (the )?delivery vehicle", r"in das zustellfahrzeug geladen",
            r"zustellfahrzeug", r"in zustellung", r"wird heute zugestellt", r"in bezorging",
            r"onderweg naar (de )?ontvanger", r"en cours de livraison", r"in consegna",
            r"ute för utkörning",
        ),
        TrackingStatus.OUT_FOR_DELIVERY,
        frozenset({"transit", "unknown"}),
    ),
    (
        _rx(
            r"available for (pick.?up|collection)", r"ready for (pick.?up|collection)",
            r"awaiting (pick.?up|collection)", r"can be (picked up|collected)", r"to be (picked up|collected)",
            r"(delivered|arrived) (to|at) .*(parcel ?shop|service ?point|packstation|parcel ?locker|"
            r"pick.?up (point|location)|access point|post office for pick)",
            r"zur abholung", r"abholbereit", r"abholung bereit", r"abholen",
            r"in (die|der) packstation (eingelegt|bereit)", r"liegt .*(packstation|paketshop|filiale)",
            r"ligt klaar", r"kan hämtas", r"disponible en point",
        ),
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        frozenset({"transit", "unknown", "failure"}),
    ),
    (
        _rx(
            r"attempt", r"not delivered", r"could not be delivered", r"unable to deliver",
            r"recipient not (available|at home)", r"no one (available|home)", r"addressee not",
            r"nicht angetroffen", r"zustellversuch", r"konnte nicht zugestellt", r"nicht zugestellt werden",
        ),
        TrackingStatus.FAILED_ATTEMPT,
        frozenset({"transit", "unknown", "failure"}),
    ),
    (
        _rx(
            r"label created", r"shipment information received", r"shipment data", r"electronic(ally)? notif",
            r"awaiting (shipment|processing)", r"elektronisch angekündigt", r"sendungsdaten",
            r"auftragsdaten", r"data (was )?(received|transmitted)",
        ),
        TrackingStatus.INFO_RECEIVED,
        frozenset({"unknown", "pre-transit"}),
    ),
    (
        _rx(r"\bdelivered\b", r"zugestellt"),
        TrackingStatus.DELIVERED,
        frozenset({"unknown"}),
    ),
)  # fmt: skip
"""(pattern on `status` + `description`, status, the statusCodes it may refine); the first match wins,
so the more specific phrases come first. DHL's `statusCode` is coarse; the meaning is in the free text."""

# --- booking ----------------------------------------------------------------------------------------------------

PARCEL_DE = "parcel_de"
EXPRESS = "express"


@dataclass(frozen=True)
class ParcelDeProduct:
    """One Parcel DE product: its billing `procedure` (digits 11-12 of the billing number) and lanes."""

    code: str
    name: str
    procedure: str
    international: bool
    max_weight_grams: int


PARCEL_DE_PRODUCTS: dict[str, ParcelDeProduct] = {
    p.code: p
    for p in (
        ParcelDeProduct("V01PAK", "DHL Paket", "01", international=False, max_weight_grams=31_500),
        ParcelDeProduct("V62KP", "DHL Kleinpaket", "62", international=False, max_weight_grams=1_000),
        ParcelDeProduct("V53WPAK", "DHL Paket International", "53", international=True, max_weight_grams=31_500),
        ParcelDeProduct("V54EPAK", "DHL Europaket", "54", international=True, max_weight_grams=31_500),
        ParcelDeProduct("V66WPI", "Warenpost International", "66", international=True, max_weight_grams=1_000),
    )
}
"""The Parcel DE products we book (spec `Product`; V62WP Warenpost is left out: replaced by V62KP on 2025-01-01).
Weights: the spec's `Weight` maximum is 31500 g; Kleinpaket and Warenpost International carry up to 1 kg
(DHL product terms). National products ship from and to Germany only."""


@dataclass(frozen=True)
class ExpressProduct:
    """One DHL Express global product code: documents-only or not, and its lanes."""

    code: str
    name: str
    documents: bool
    domestic: bool
    international: bool
    eu_only: bool = False


EXPRESS_PRODUCTS: dict[str, ExpressProduct] = {
    p.code: p
    for p in (
        ExpressProduct("P", "DHL Express Worldwide", documents=False, domestic=False, international=True),
        ExpressProduct("D", "DHL Express Worldwide (documents)", documents=True, domestic=False, international=True),
        ExpressProduct("U", "DHL Express Worldwide (EU)", documents=False, domestic=False, international=True,
                       eu_only=True),
        ExpressProduct("Y", "DHL Express 12:00", documents=False, domestic=False, international=True),
        ExpressProduct("T", "DHL Express 12:00 (documents)", documents=True, domestic=False, international=True),
        ExpressProduct("M", "DHL Express 10:30", documents=False, domestic=False, international=True),
        ExpressProduct("L", "DHL Express 10:30 (documents)", documents=True, domestic=False, international=True),
        ExpressProduct("E", "DHL Express 9:00", documents=False, domestic=False, international=True),
        ExpressProduct("K", "DHL Express 9:00 (documents)", documents=True, domestic=False, international=True),
        ExpressProduct("X", "DHL Express Envelope", documents=True, domestic=False, international=True),
        ExpressProduct("H", "DHL Economy Select", documents=False, domestic=False, international=True),
        ExpressProduct("W", "DHL Economy Select (EU)", documents=False, domestic=False, international=True,
                       eu_only=True),
        ExpressProduct("N", "DHL Domestic Express", documents=False, domestic=True, international=False),
        ExpressProduct("1", "DHL Domestic Express 12:00", documents=False, domestic=True, international=False),
        ExpressProduct("O", "DHL Domestic Express 10:30", documents=False, domestic=True, international=False),
        ExpressProduct("I", "DHL Domestic Express 9:00", documents=False, domestic=True, international=False),
    )
}  # fmt: skip
"""DHL Express global product codes (`productCode`); availability per lane and account is DHL's
(`GET /products`), what we check is only domestic vs international and documents vs goods."""


def api_for(service: str) -> str | None:
    """Which booking API books `service`: `PARCEL_DE`, `EXPRESS`, or None for a code neither knows."""
    if service in PARCEL_DE_PRODUCTS:
        return PARCEL_DE
    if service in EXPRESS_PRODUCTS:
        return EXPRESS
    return None


SERVICES: tuple[Service, ...] = (
    *(
        Service(
            code=p.code,
            name=p.name,
            domestic=not p.international,
            international=p.international,
            notes=(
                "Parcel DE Shipping v2 (credentials.parcel_de); from Germany"
                + ("; customs outside the EU customs union" if p.international else "; within Germany")
                + f"; up to {p.max_weight_grams / 1000:g} kg per parcel"
            ),
        )
        for p in PARCEL_DE_PRODUCTS.values()
    ),
    *(
        Service(
            code=p.code,
            name=p.name,
            domestic=p.domestic,
            international=p.international,
            notes=(
                "MyDHL API / DHL Express (credentials.express); no cancel"
                + ("; documents only, no customs" if p.documents else "")
                + ("; within the EU" if p.eu_only else "")
                + ("; customs across a customs border" if not p.documents and p.international else "")
            ),
        )
        for p in EXPRESS_PRODUCTS.values()
    ),
)
"""Every service `DhlAdapter.create_shipment` books: Parcel DE products first, then Express products."""

# --- countries --------------------------------------------------------------------------------------------------

_ALPHA2_ALPHA3 = (
    "ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO ARARG ASASM ATAUT AUAUS AWABW AXALA AZAZE BABIH "
    "BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN BOBOL BQBES BRBRA BSBHS BTBTN "
    "BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG CHCHE CICIV CKCOK CLCHL CMCMR CNCHN COCOL "
    "CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE DEDEU DJDJI DKDNK DMDMA DODOM DZDZA ECECU EEEST EGEGY "
    "ERERI ESESP ETETH FIFIN FJFJI FKFLK FMFSM FOFRO FRFRA GAGAB GBGBR GDGRD GEGEO GFGUF GGGGY GHGHA "
    "GIGIB GLGRL GMGMB GNGIN GPGLP GQGNQ GRGRC GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD HNHND HRHRV HTHTI "
    "HUHUN IDIDN IEIRL ILISR IMIMN ININD IQIRQ IRIRN ISISL ITITA JEJEY JMJAM JOJOR JPJPN KEKEN KGKGZ "
    "KHKHM KIKIR KMCOM KNKNA KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO LBLBN LCLCA LILIE LKLKA LRLBR LSLSO "
    "LTLTU LULUX LVLVA LYLBY MAMAR MCMCO MDMDA MEMNE MFMAF MGMDG MHMHL MKMKD MLMLI MMMMR MNMNG MOMAC "
    "MPMNP MQMTQ MRMRT MSMSR MTMLT MUMUS MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM NCNCL NENER NFNFK NGNGA "
    "NINIC NLNLD NONOR NPNPL NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG PHPHL PKPAK PLPOL PMSPM "
    "PNPCN PRPRI PSPSE PTPRT PWPLW PYPRY QAQAT REREU ROROU RSSRB RURUS RWRWA SASAU SBSLB SCSYC SDSDN "
    "SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD STSTP SVSLV SXSXM SYSYR "
    "SZSWZ TCTCA TDTCD TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON TRTUR TTTTO TVTUV TWTWN TZTZA "
    "UAUKR UGUGA USUSA UYURY UZUZB VAVAT VCVCT VEVEN VGVGB VIVIR VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT "
    "ZAZAF ZMZMB ZWZWE "
)
ALPHA3: dict[str, str] = {pair[:2]: pair[2:] for pair in "".join(_ALPHA2_ALPHA3).split()}
"""ISO 3166-1 alpha-2 -> alpha-3 for every country of the Parcel DE spec's `Country` enum (which is alpha-3)."""
