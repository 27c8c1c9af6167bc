"""Regenerate specs/document_classification/: rendered page images and data.jsonl with their type.

Eight document types are drawn with Pillow's built-in font at a small, readable size, then
made to look scanned: a grey or yellowed background, speckle, a slight rotation, sometimes a
crop, JPEG compression. Confusable pairs are deliberate (invoice vs purchase order, letter vs
meeting minutes), and a share of pages lose their title so the layout has to decide, which is
what rubric.md's rules are for. Types are imbalanced the way an inbound-mail scanner sees them.

Requires Pillow (a dependency of distilleval).
Run: python specs/document_classification/generate.py   (same seed, same files)
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 20260205
N_ITEMS = 320
TEST_FRACTION = 0.35
PAGE_SIZE = (360, 466)  # roughly US letter proportions
HERE = Path(__file__).parent
IMAGE_DIR = HERE / "pages"

TYPE_WEIGHTS = {
    "invoice": 0.22, "business_letter": 0.16, "purchase_order": 0.12, "bank_statement": 0.12,
    "form": 0.12, "resume": 0.1, "meeting_minutes": 0.09, "scientific_article": 0.07,
}
WORDS = ("the of and to in for on with as by we our your this that will be is are from at please "
         "project account service delivery review team agreement payment schedule report quarter "
         "results customer office proposal budget contract request update meeting data support "
         "following regarding attached further note order terms period total balance effective").split()
COMPANIES = ["Harbor & Finch Ltd", "Quantum Paper Co.", "Greenfield Foods", "Atlas Freight GmbH",
             "Northwind Traders", "Bluebird Dental", "Cedar Lane Legal", "Orbit Analytics Inc."]
PEOPLE = ["Dana Whitfield", "Marco Bianchi", "Aiko Yamada", "Samuel Osei", "Leonie Braun", "Carlos Mendes"]
ITEMS = ["Consulting hours", "A4 paper, 5 boxes", "Toner cartridge", "Pallet transport", "License renewal",
         "Office chairs", "Cleaning service", "Cloud storage 1TB", "Catering", "Safety boots"]


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def sentence(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


class Page:
    """A page with a text cursor; every draw moves the cursor down."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.image = Image.new("L", PAGE_SIZE, 255)
        self.draw = ImageDraw.Draw(self.image)
        self.x = 24
        self.y = 22

    def line(self, text: str, size: int = 10, x: int | None = None, gap: int = 4) -> None:
        self.draw.text((self.x if x is None else x, self.y), text, fill=rng_ink(self.rng), font=font(size))
        self.y += size + gap

    def paragraph(self, n_lines: int, size: int = 9, width_chars: int = 60) -> None:
        for _ in range(n_lines):
            text = sentence(self.rng, self.rng.randint(6, 11))[:width_chars]
            self.line(text, size=size, gap=3)
        self.y += 4

    def rule(self) -> None:
        self.draw.line((self.x, self.y, PAGE_SIZE[0] - 24, self.y), fill=90, width=1)
        self.y += 6

    def table(self, header: list[str], rows: list[list[str]], widths: list[int], size: int = 9) -> None:
        left = self.x
        self.draw.rectangle((left - 2, self.y - 2, PAGE_SIZE[0] - 22, self.y + size + 2), fill=225)
        for text, offset in zip(header, widths):
            self.draw.text((left + offset, self.y), text, fill=20, font=font(size))
        self.y += size + 6
        for row in rows:
            for text, offset in zip(row, widths):
                self.draw.text((left + offset, self.y), text, fill=rng_ink(self.rng), font=font(size))
            self.y += size + 4
        self.rule()


def rng_ink(rng: random.Random) -> int:
    return rng.randint(0, 60)


def money(rng: random.Random, low: float = 5, high: float = 900) -> str:
    return f"{rng.uniform(low, high):,.2f}"


def date(rng: random.Random) -> str:
    return rng.choice(["{d:02d}/{m:02d}/2025", "2025-{m:02d}-{d:02d}", "{d} March 2025", "Jan {d}, 2026"]).format(
        d=rng.randint(1, 28), m=rng.randint(1, 12))


def draw_invoice(p: Page, titled: bool) -> None:
    rng = p.rng
    p.line(rng.choice(COMPANIES), size=13)
    p.line(f"{rng.randint(1, 200)} Market Street, Suite {rng.randint(1, 40)}", size=8)
    if titled:
        p.line(rng.choice(["INVOICE", "Invoice", "TAX INVOICE"]), size=16, x=230)
    p.line(f"Invoice no. {rng.randint(1000, 99999)}    Date: {date(rng)}", size=9)
    p.line(f"Bill to: {rng.choice(COMPANIES)}", size=9)
    p.line(f"Payment due: {date(rng)}   Terms: Net {rng.choice([14, 30, 45])}", size=9)
    p.rule()
    rows = [[rng.choice(ITEMS), str(rng.randint(1, 20)), money(rng, 5, 300), money(rng)] for _ in range(rng.randint(2, 7))]
    p.table(["Description", "Qty", "Unit", "Amount"], rows, [0, 170, 215, 270])
    p.line(f"Subtotal {money(rng, 100, 4000)}", size=9, x=220)
    p.line(f"VAT 20% {money(rng, 20, 800)}", size=9, x=220)
    p.line(f"AMOUNT DUE {money(rng, 120, 4800)}", size=11, x=200)
    p.line(f"Bank: IBAN GB{rng.randint(10, 99)} NWBK 6016 1331 9268 19", size=8)


def draw_purchase_order(p: Page, titled: bool) -> None:
    rng = p.rng
    p.line(rng.choice(COMPANIES), size=13)
    if titled:
        p.line(rng.choice(["PURCHASE ORDER", "Purchase Order"]), size=15, x=190)
    p.line(f"PO number: PO-{rng.randint(10000, 99999)}    Date: {date(rng)}", size=9)
    p.line(f"Vendor: {rng.choice(COMPANIES)}", size=9)
    p.line(f"Ship to: Receiving Dock {rng.randint(1, 9)}, {rng.randint(1, 300)} Industrial Way", size=9)
    p.line(f"Requested delivery: {date(rng)}   Buyer: {rng.choice(PEOPLE)}", size=9)
    p.rule()
    rows = [[rng.choice(ITEMS), str(rng.randint(1, 50)), money(rng, 5, 300)] for _ in range(rng.randint(2, 7))]
    p.table(["Item", "Qty ordered", "Unit price"], rows, [0, 170, 250])
    p.line(f"Authorised by: {rng.choice(PEOPLE)}  ________________", size=9)
    p.line("Please quote the PO number on all invoices and delivery notes.", size=8)


def draw_bank_statement(p: Page, titled: bool) -> None:
    rng = p.rng
    p.line(rng.choice(["First Meridian Bank", "Coastal Savings", "Unity Credit Union"]), size=13)
    if titled:
        p.line("Account Statement", size=14, x=200)
    p.line(f"Account holder: {rng.choice(PEOPLE)}   Account: ****{rng.randint(1000, 9999)}", size=9)
    p.line(f"Statement period: {date(rng)} - {date(rng)}", size=9)
    p.line(f"Opening balance {money(rng, 100, 9000)}", size=9)
    p.rule()
    payees = ["CARD PAYMENT GROCER", "SALARY", "DIRECT DEBIT ENERGY", "ATM WITHDRAWAL", "TRANSFER", "RENT", "ONLINE SHOP"]
    rows = [[date(rng)[:10], rng.choice(payees), money(rng, 5, 800) if rng.random() < 0.7 else "", money(rng, 100, 9000)]
            for _ in range(rng.randint(6, 14))]
    p.table(["Date", "Description", "Amount", "Balance"], rows, [0, 70, 210, 270], size=8)
    p.line(f"Closing balance {money(rng, 100, 9000)}", size=10, x=180)


def draw_resume(p: Page, titled: bool) -> None:
    rng = p.rng
    p.line(rng.choice(PEOPLE), size=16)
    p.line(f"{rng.choice(['Data Analyst', 'Project Manager', 'Nurse', 'Software Engineer', 'Accountant'])}  |  "
           f"{rng.choice(['London', 'Austin', 'Berlin'])}  |  name@mail.com", size=8)
    p.rule()
    for section in (["Profile"] if titled else []) + ["Experience", "Education", "Skills"]:
        p.line(section.upper(), size=10)
        if section == "Experience":
            for _ in range(rng.randint(2, 3)):
                p.line(f"{rng.choice(COMPANIES)}   {rng.randint(2012, 2020)} - {rng.choice(['present', '2023'])}", size=9)
                p.paragraph(rng.randint(1, 2), size=8)
        elif section == "Education":
            p.line(f"BSc {rng.choice(['Economics', 'Biology', 'Computer Science'])}, University of {rng.choice(['Leeds', 'Texas', 'Bonn'])}", size=9)
            p.y += 4
        elif section == "Skills":
            p.line(", ".join(rng.sample(["Excel", "SQL", "Python", "Scheduling", "Budgeting", "German", "SAP", "Tableau"], 5)), size=9)
        else:
            p.paragraph(2, size=8)


def draw_business_letter(p: Page, titled: bool) -> None:
    rng = p.rng
    p.line(rng.choice(COMPANIES), size=12)
    p.line(f"{rng.randint(1, 200)} King Street, {rng.choice(['Leeds', 'Boston', 'Hamburg'])}", size=8)
    p.y += 10
    p.line(date(rng), size=9)
    p.line(rng.choice(PEOPLE), size=9)
    p.line(f"{rng.randint(1, 99)} Oak Avenue", size=9)
    p.y += 8
    if titled:
        p.line(f"Re: {sentence(rng, 4)[:-1]}", size=10)
    p.line(f"Dear {rng.choice(['Ms', 'Mr', 'Dr'])} {rng.choice(PEOPLE).split()[1]},", size=9)
    p.y += 4
    for _ in range(rng.randint(2, 4)):
        p.paragraph(rng.randint(2, 4), size=9)
    p.line(rng.choice(["Yours sincerely,", "Kind regards,", "Best regards,"]), size=9)
    p.y += 14
    p.line(rng.choice(PEOPLE), size=9)


def draw_meeting_minutes(p: Page, titled: bool) -> None:
    rng = p.rng
    if titled:
        p.line(rng.choice(["Minutes of Meeting", "MEETING MINUTES", "Board Meeting - Minutes"]), size=14)
    p.line(f"Date: {date(rng)}   Time: {rng.randint(9, 16)}:00   Location: Room {rng.randint(1, 12)}", size=9)
    p.line("Present: " + ", ".join(rng.sample(PEOPLE, 4)), size=8)
    p.line(f"Apologies: {rng.choice(PEOPLE)}", size=8)
    p.rule()
    for number in range(1, rng.randint(3, 5) + 1):
        p.line(f"{number}. {sentence(rng, 4)[:-1]}", size=10)
        p.paragraph(rng.randint(1, 2), size=8)
        if rng.random() < 0.6:
            p.line(f"ACTION: {rng.choice(PEOPLE).split()[0]} to {sentence(rng, 4).lower()}", size=8)
    p.line(f"Next meeting: {date(rng)}", size=9)


def draw_form(p: Page, titled: bool) -> None:
    rng = p.rng
    if titled:
        p.line(rng.choice(["Application Form", "Change of Address Form", "Employee Onboarding Form", "Patient Registration"]), size=14)
    p.line("Please complete in BLOCK CAPITALS. Fields marked * are required.", size=8)
    p.rule()
    labels = ["Surname*", "First name*", "Date of birth", "Address*", "Postcode", "Phone", "Email", "Employer",
              "Reference no.", "Signature", "Date"]
    for label in rng.sample(labels, rng.randint(7, 11)):
        p.draw.text((p.x, p.y), label, fill=30, font=font(9))
        p.draw.rectangle((p.x + 100, p.y - 2, PAGE_SIZE[0] - 30, p.y + 12), outline=80)
        if rng.random() < 0.5:
            p.draw.text((p.x + 104, p.y), rng.choice(PEOPLE).upper(), fill=rng_ink(rng), font=font(9))
        p.y += 22
    for _ in range(rng.randint(1, 3)):
        p.draw.rectangle((p.x, p.y, p.x + 9, p.y + 9), outline=40)
        p.draw.text((p.x + 16, p.y - 1), sentence(rng, 6)[:50], fill=30, font=font(8))
        p.y += 16


def draw_scientific_article(p: Page, titled: bool) -> None:
    rng = p.rng
    if titled:
        p.line(sentence(rng, 6)[:-1].title()[:44], size=12, x=40)
    p.line(", ".join(rng.sample(PEOPLE, 3)), size=8, x=60)
    p.line(f"Department of {rng.choice(['Physics', 'Biology', 'Economics'])}, University of {rng.choice(['Leeds', 'Texas', 'Bonn'])}", size=7, x=60)
    p.line("Abstract", size=10)
    p.paragraph(3, size=8, width_chars=70)
    column_top = p.y
    for column_x in (24, 190):
        p.y = column_top
        p.x = column_x
        p.line(f"{rng.randint(1, 3)}. {rng.choice(['Introduction', 'Methods', 'Results', 'Discussion'])}", size=9)
        p.paragraph(rng.randint(8, 13), size=7, width_chars=36)
        if rng.random() < 0.4:
            p.line(f"E = mc^2 + {rng.randint(2, 9)}x  ({rng.randint(1, 9)})", size=8)
    p.x = 24
    p.line(f"[{rng.randint(1, 30)}] {rng.choice(PEOPLE)} et al., J. Appl. Stud. {rng.randint(10, 40)} ({rng.randint(1999, 2024)}).", size=7)


DRAWERS = {
    "invoice": draw_invoice, "purchase_order": draw_purchase_order, "bank_statement": draw_bank_statement,
    "resume": draw_resume, "business_letter": draw_business_letter, "meeting_minutes": draw_meeting_minutes,
    "form": draw_form, "scientific_article": draw_scientific_article,
}


def scan(image: Image.Image, rng: random.Random) -> Image.Image:
    """Make a clean render look like a phone photo or office scan."""
    background = rng.randint(215, 250)
    angle = rng.uniform(-4, 4)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=background)
    tint = Image.new("L", image.size, background)
    image = Image.blend(image, tint, rng.uniform(0.0, 0.12))
    pixels = image.load()
    width, height = image.size
    for _ in range(rng.randint(20, 150)):
        pixels[rng.randrange(width), rng.randrange(height)] = rng.randint(0, 140)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
    if rng.random() < 0.2:
        # Cropped scan: the bottom or right edge is missing.
        image = image.crop((0, 0, width - rng.randint(0, 40), height - rng.randint(20, 90)))
    return image


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """Render the pages into pages/ and return the records, deterministic for a seed."""
    rng = random.Random(seed)
    if IMAGE_DIR.exists():
        shutil.rmtree(IMAGE_DIR)
    IMAGE_DIR.mkdir()
    types = list(TYPE_WEIGHTS)
    weights = [TYPE_WEIGHTS[t] for t in types]
    records = []
    for index in range(n_items):
        doc_type = rng.choices(types, weights)[0]
        page = Page(rng)
        titled = rng.random() < 0.8
        DRAWERS[doc_type](page, titled)
        image = scan(page.image, rng)
        name = f"page-{index:04d}.jpg"
        image.save(IMAGE_DIR / name, "JPEG", quality=rng.choice([40, 50, 60]), optimize=True)
        split = "test" if rng.random() < TEST_FRACTION else "train"
        records.append({"id": f"doc-{index:04d}", "image": f"pages/{name}", "doc_type": doc_type,
                        "has_title": titled, "split": split})
    return records


def main() -> None:
    records = generate()
    out = HERE / "data.jsonl"
    tmp = out.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    tmp.replace(out)
    print(f"wrote {len(records)} pages to {IMAGE_DIR} and {out}")


if __name__ == "__main__":
    main()
