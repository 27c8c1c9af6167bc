"""Regenerate specs/receipt_extraction/: photographed-receipt images and data.jsonl with their fields.

Each receipt is laid out like a till slip (merchant header, date and time, item lines with
quantities, subtotal, tax, total, payment method, sometimes cash tendered and change, a loyalty
line), then photographed: placed on a table-coloured background, rotated up to 9 degrees,
faded like thermal paper, speckled, sometimes blurred, and JPEG-compressed. Dates are printed in
the merchant's local style (day-first in Europe, month-first in the US); the gold is ISO.

Gold: {"merchant", "date" (YYYY-MM-DD), "currency" (ISO 4217), "subtotal", "tax", "total",
"payment_method", "items": [{"name", "quantity", "price"}]} with amounts as numbers; "price" is
the line total as printed.

Requires Pillow (a dependency of distilleval).
Run: python specs/receipt_extraction/generate.py   (same seed, same files)
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 20260206
N_ITEMS = 310
TEST_FRACTION = 0.35
WIDTH = 230
HERE = Path(__file__).parent
IMAGE_DIR = HERE / "receipts"

# merchant, country style, currency, tax rate, catalogue
MERCHANTS = [
    ("Corner Grocer", "US", "USD", 0.0725, ["Bananas", "Whole Milk 1gal", "Eggs 12ct", "Sourdough", "Coffee Beans", "Apples 3lb", "Cheddar", "Paper Towels"]),
    ("BuildRight Hardware", "US", "USD", 0.0825, ["Wood Screws 100", "Paint Roller", "Duct Tape", "LED Bulb 4pk", "Sandpaper", "Hammer", "Drill Bit Set"]),
    ("QuickFuel #2231", "US", "USD", 0.06, ["Unleaded 10.2gal", "Energy Drink", "Beef Jerky", "Car Wash", "Coffee Lg"]),
    ("Café Lumière", "FR", "EUR", 0.10, ["Croissant", "Café crème", "Quiche lorraine", "Tarte citron", "Jus d'orange", "Baguette"]),
    ("Bäckerei Sonnenschein", "DE", "EUR", 0.07, ["Brezel", "Roggenbrot", "Apfelstrudel", "Kaffee", "Käsebrötchen"]),
    ("Pharma Plus", "DE", "EUR", 0.19, ["Ibuprofen 400", "Sonnencreme 50", "Pflaster", "Vitamin D", "Zahnpasta"]),
    ("The Kings Arms", "GB", "GBP", 0.20, ["Pint Lager", "Fish & Chips", "Sunday Roast", "Crisps", "Gin & Tonic", "Sticky Toffee Pud"]),
    ("Bella Napoli Pizzeria", "GB", "GBP", 0.20, ["Margherita", "Diavola", "Garlic Bread", "Tiramisu", "Sparkling Water"]),
]
PRICE_RANGE = {"Corner Grocer": (0.8, 14), "BuildRight Hardware": (3, 60), "QuickFuel #2231": (1.5, 48),
               "Café Lumière": (1.5, 9), "Bäckerei Sonnenschein": (0.8, 6), "Pharma Plus": (2, 19),
               "The Kings Arms": (2.5, 18), "Bella Napoli Pizzeria": (3, 15)}
# Till printers here print ASCII only (the built-in font has no accents or euro sign), so
# names are folded to ASCII before printing and the gold uses the printed spelling.
SYMBOL = {"USD": "$", "EUR": "EUR ", "GBP": "GBP "}
ADDRESSES = {"US": ["401 Main Street", "1200 Elm Ave", "77 Route 9"], "FR": ["8 Rue Cler", "14 Bd Voltaire"],
             "DE": ["Hauptstr. 21", "Lindenweg 4"], "GB": ["12 High St", "Unit 4, Mill Lane"]}
PAYMENT = {"US": ["VISA", "MASTERCARD", "CASH", "AMEX"], "FR": ["CB", "ESPECES", "VISA"],
           "DE": ["EC-KARTE", "BAR", "VISA"], "GB": ["CONTACTLESS", "VISA", "CASH"]}
# How the printed payment word maps to the normalised gold value.
PAYMENT_GOLD = {"VISA": "card", "MASTERCARD": "card", "AMEX": "card", "CB": "card", "EC-KARTE": "card",
                "CONTACTLESS": "card", "CASH": "cash", "ESPECES": "cash", "BAR": "cash"}
WORDS = {"US": ("SUBTOTAL", "TAX", "TOTAL"), "FR": ("SOUS-TOTAL", "TVA", "TOTAL TTC"),
         "DE": ("ZWISCHENSUMME", "MwSt", "SUMME"), "GB": ("SUBTOTAL", "VAT", "TOTAL")}


def ascii_fold(text: str) -> str:
    """Drop accents: 'Café crème' -> 'Cafe creme'."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def fmt_amount(value: float, country: str) -> str:
    text = f"{value:,.2f}"
    if country in ("FR", "DE"):
        text = text.replace(",", " ").replace(".", ",")
    return text


def fmt_date(day: dt.date, country: str, rng: random.Random) -> str:
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    if country == "US":
        return rng.choice([f"{day.month:02d}/{day.day:02d}/{day.year}", f"{day.month}/{day.day}/{day.year % 100:02d}",
                           f"{months[day.month - 1]} {day.day}, {day.year}"])
    if country == "DE":
        return rng.choice([f"{day.day:02d}.{day.month:02d}.{day.year}", f"{day.day:02d}.{day.month:02d}.{day.year % 100:02d}"])
    return rng.choice([f"{day.day:02d}/{day.month:02d}/{day.year}", f"{day.day} {months[day.month - 1]} {day.year}",
                       f"{day.year}-{day.month:02d}-{day.day:02d}"])


def receipt_content(rng: random.Random) -> tuple[list[tuple[str, str, int]], dict]:
    """Lines to print (left text, right text, font size) and the gold fields."""
    merchant, country, currency, tax_rate, catalogue = rng.choice(MERCHANTS)
    low, high = PRICE_RANGE[merchant]
    merchant, catalogue = ascii_fold(merchant), [ascii_fold(name) for name in catalogue]
    day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 400))
    lines: list[tuple[str, str, int]] = [(merchant.upper() if rng.random() < 0.5 else merchant, "", 13)]
    lines.append((rng.choice(ADDRESSES[country]), "", 9))
    lines.append((f"{fmt_date(day, country, rng)}  {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}", f"#{rng.randint(1000, 99999)}", 9))
    lines.append(("-" * 34, "", 9))
    items = []
    for name in rng.sample(catalogue, rng.randint(1, min(6, len(catalogue)))):
        quantity = rng.choices([1, 2, 3, 4], [0.7, 0.18, 0.08, 0.04])[0]
        # Each product has a stable shelf price (seeded by its name), varied a little per receipt.
        shelf_price = random.Random(f"{merchant}:{name}").uniform(low, high)
        unit = round(shelf_price * rng.uniform(0.92, 1.08), 2)
        price = round(unit * quantity, 2)
        label = name if quantity == 1 else f"{quantity} x {name}"
        if quantity > 1 and rng.random() < 0.5:
            lines.append((name, "", 10))
            label = f"  {quantity} @ {fmt_amount(unit, country)}"
        lines.append((label, fmt_amount(price, country), 10))
        items.append({"name": name, "quantity": quantity, "price": price})
    subtotal = round(sum(item["price"] for item in items), 2)
    if rng.random() < 0.15:
        discount = round(subtotal * 0.1, 2)
        lines.append(("LOYALTY -10%", "-" + fmt_amount(discount, country), 10))
        subtotal = round(subtotal - discount, 2)
    # US prices exclude sales tax, added on top; European prices include VAT, printed for information.
    if country == "US":
        tax = round(subtotal * tax_rate, 2)
        total = round(subtotal + tax, 2)
    else:
        tax = round(subtotal * tax_rate / (1 + tax_rate), 2)
        total = subtotal
    sub_word, tax_word, total_word = WORDS[country]
    lines.append(("-" * 34, "", 9))
    lines.append((sub_word, fmt_amount(subtotal, country), 10))
    lines.append((f"{tax_word} {tax_rate * 100:g}%", fmt_amount(tax, country), 10))
    lines.append((total_word, f"{SYMBOL[currency] if rng.random() < 0.6 else currency + ' '}{fmt_amount(total, country)}", 13))
    payment = rng.choice(PAYMENT[country])
    lines.append((payment, fmt_amount(total, country) if PAYMENT_GOLD[payment] == "card" else "", 10))
    if PAYMENT_GOLD[payment] == "cash":
        tendered = float(max(5, int(total // 5 + 1) * 5))
        lines[-1] = (payment, fmt_amount(tendered, country), 10)
        lines.append(({"US": "CHANGE", "GB": "CHANGE", "FR": "RENDU", "DE": "RUECKGELD"}[country],
                      fmt_amount(round(tendered - total, 2), country), 10))
    if PAYMENT_GOLD[payment] == "card":
        lines.append((f"**** **** **** {rng.randint(1000, 9999)}", "", 9))
    closing = {"US": ["THANK YOU!", "Keep this receipt"], "GB": ["THANK YOU!", "See you soon"],
               "FR": ["Merci de votre visite", "A bientot"], "DE": ["Vielen Dank!", "Bis bald"]}[country]
    lines.append((rng.choice(closing), "", 9))
    gold = {"merchant": merchant, "date": day.isoformat(), "currency": currency, "subtotal": subtotal,
            "tax": tax, "total": total, "payment_method": PAYMENT_GOLD[payment], "items": items}
    return lines, gold


def render(lines: list[tuple[str, str, int]], rng: random.Random) -> Image.Image:
    """Draw the slip, then photograph it: background, rotation, fading, speckle, blur."""
    height = 20 + sum(size + 5 for _, _, size in lines) + 10
    paper = Image.new("L", (WIDTH, height), rng.randint(235, 252))
    draw = ImageDraw.Draw(paper)
    y = 12
    for left, right, size in lines:
        ink = rng.randint(10, 90)
        draw.text((12, y), left, fill=ink, font=font(size))
        if right:
            text_width = draw.textlength(right, font=font(size))
            draw.text((WIDTH - 12 - text_width, y), right, fill=ink, font=font(size))
        y += size + 5
    if rng.random() < 0.35:
        # Thermal paper fading: a lighter band across the slip.
        band_top = rng.randint(0, height // 2)
        fade = Image.new("L", (WIDTH, rng.randint(30, 90)), 245)
        region = paper.crop((0, band_top, WIDTH, band_top + fade.height))
        paper.paste(Image.blend(region, fade, rng.uniform(0.3, 0.55)), (0, band_top))
    angle = rng.uniform(-9, 9)
    background = rng.randint(70, 160)
    margin = 24
    canvas = Image.new("L", (WIDTH + 2 * margin, height + 2 * margin), background)
    canvas.paste(paper, (margin + rng.randint(-6, 6), margin + rng.randint(-6, 6)))
    canvas = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    pixels = canvas.load()
    for _ in range(rng.randint(30, 200)):
        pixels[rng.randrange(canvas.width), rng.randrange(canvas.height)] = rng.randint(0, 255)
    if rng.random() < 0.3:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    return canvas


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """Render the receipts into receipts/ and return the records, deterministic for a seed."""
    rng = random.Random(seed)
    if IMAGE_DIR.exists():
        shutil.rmtree(IMAGE_DIR)
    IMAGE_DIR.mkdir()
    records = []
    for index in range(n_items):
        lines, gold = receipt_content(rng)
        image = render(lines, rng)
        name = f"receipt-{index:04d}.jpg"
        image.save(IMAGE_DIR / name, "JPEG", quality=rng.choice([40, 50, 60]), optimize=True)
        split = "test" if rng.random() < TEST_FRACTION else "train"
        records.append({"id": f"rcpt-{index:04d}", "image": f"receipts/{name}", "gold": gold, "split": split})
    return records


def main() -> None:
    records = generate()
    out = HERE / "data.jsonl"
    tmp = out.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    print(f"wrote {len(records)} receipts to {IMAGE_DIR} and {out}")


if __name__ == "__main__":
    main()
