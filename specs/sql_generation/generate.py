"""Regenerate specs/sql_generation/: the shop.sqlite database and data.jsonl (questions + gold SQL).

The database is a small outdoor-gear retailer: stores, employees (with managers), customers,
categories, products, orders and order lines, with skewed, realistic distributions (a few big
stores, seasonal orders, a long tail of products). Questions are written from templates in
several phrasings, some terse or misspelled, each with a gold query (the last phrasing of each
question family appears in the eval split only); every gold query is run
against the database here and the script fails if one errors or returns nothing.

Run: python specs/sql_generation/generate.py   (same seed, same files)
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from pathlib import Path

SEED = 20260203
N_QUESTIONS = 340
TEST_FRACTION_SEEN = 0.05  # share of the other phrasings that also goes to the eval split
HERE = Path(__file__).parent

SCHEMA = """
CREATE TABLE stores (
    store_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    region TEXT NOT NULL,              -- 'West', 'Mountain', 'Midwest', 'Northeast', 'Online'
    opened_on TEXT NOT NULL            -- ISO date
);
CREATE TABLE employees (
    employee_id INTEGER PRIMARY KEY,
    store_id INTEGER NOT NULL REFERENCES stores(store_id),
    full_name TEXT NOT NULL,
    role TEXT NOT NULL,                -- 'manager', 'sales', 'cashier', 'stock'
    hire_date TEXT NOT NULL,
    manager_id INTEGER REFERENCES employees(employee_id)
);
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    signup_date TEXT NOT NULL,
    loyalty_tier TEXT NOT NULL         -- 'none', 'silver', 'gold'
);
CREATE TABLE categories (
    category_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories(category_id),
    brand TEXT NOT NULL,
    list_price REAL NOT NULL,
    discontinued INTEGER NOT NULL DEFAULT 0   -- 1 = no longer sold
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    store_id INTEGER NOT NULL REFERENCES stores(store_id),
    order_date TEXT NOT NULL,          -- ISO date
    status TEXT NOT NULL,              -- 'completed', 'cancelled', 'returned', 'pending'
    channel TEXT NOT NULL              -- 'in_store', 'online', 'phone'
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(order_id),
    product_id INTEGER NOT NULL REFERENCES products(product_id),
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL,          -- price actually charged per unit, before discount
    discount REAL NOT NULL DEFAULT 0,  -- fraction, 0.1 = 10% off
    PRIMARY KEY (order_id, product_id)
);
"""

STORES = [
    ("Denver Flagship", "Denver", "Mountain", "2012-04-14"),
    ("Boulder", "Boulder", "Mountain", "2015-09-01"),
    ("Seattle Pier", "Seattle", "West", "2014-03-22"),
    ("Portland Pearl", "Portland", "West", "2018-06-10"),
    ("Chicago Loop", "Chicago", "Midwest", "2016-11-05"),
    ("Minneapolis", "Minneapolis", "Midwest", "2021-02-27"),
    ("Boston Back Bay", "Boston", "Northeast", "2019-08-19"),
    ("Web Store", "Denver", "Online", "2013-01-01"),
]
STORE_WEIGHTS = [0.22, 0.08, 0.15, 0.07, 0.1, 0.04, 0.06, 0.28]
CATEGORIES = ["Tents", "Sleeping Bags", "Backpacks", "Footwear", "Jackets", "Climbing", "Cycling",
              "Camp Kitchen", "Navigation", "Accessories"]
BRANDS = ["Summit", "Northline", "Trailcraft", "Alpenglow", "RidgeRunner", "Kestrel", "Basecamp"]
PRODUCT_WORDS = {
    "Tents": (["2P Tent", "4P Family Tent", "Ultralight Shelter", "Bivy"], 120, 650),
    "Sleeping Bags": (["Down Bag -5C", "Synthetic Bag 0C", "Summer Quilt", "Kids Bag"], 60, 420),
    "Backpacks": (["Daypack 22L", "Trekking Pack 55L", "Expedition Pack 70L", "Hydration Vest"], 45, 340),
    "Footwear": (["Hiking Boot", "Trail Runner", "Approach Shoe", "Camp Sandal"], 55, 260),
    "Jackets": (["Rain Shell", "Down Jacket", "Fleece Hoodie", "Softshell"], 70, 480),
    "Climbing": (["Harness", "Dynamic Rope 60m", "Chalk Bag", "Quickdraw Set"], 15, 280),
    "Cycling": (["Helmet", "Bike Light Set", "Saddle Bag", "Gloves"], 20, 190),
    "Camp Kitchen": (["Canister Stove", "Titanium Pot", "Water Filter", "Spork"], 8, 150),
    "Navigation": (["GPS Watch", "Compass", "Headlamp 400lm", "Map Case"], 12, 520),
    "Accessories": (["Merino Socks", "Trekking Poles", "Sunglasses", "Buff"], 10, 160),
}
FIRST = ["Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Kara", "Leo", "Mia",
         "Noah", "Olivia", "Paul", "Quinn", "Ruby", "Sam", "Tara", "Uma", "Victor", "Wendy", "Yusuf", "Zara"]
LAST = ["Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Khan",
        "Lopez", "Miller", "Nowak", "Olsen", "Park", "Reyes", "Smith", "Turner", "Walsh", "Young"]
CUSTOMER_CITIES = ["Denver", "Boulder", "Seattle", "Portland", "Chicago", "Minneapolis", "Boston", "Austin",
                   "Salt Lake City", "Madison"]


def iso(day: dt.date) -> str:
    return day.isoformat()


def build_database(path: Path, rng: random.Random) -> None:
    """Create the SQLite file at ``path`` (replacing it) with seeded rows."""
    tmp = path.with_suffix(".sqlite.tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO stores VALUES (?,?,?,?,?)", [(i + 1, *s) for i, s in enumerate(STORES)])

    employees = []
    next_id = 1
    for store_id in range(1, len(STORES) + 1):
        manager_id = next_id
        employees.append((manager_id, store_id, f"{rng.choice(FIRST)} {rng.choice(LAST)}", "manager",
                          iso(dt.date(2012, 1, 1) + dt.timedelta(days=rng.randint(0, 3000))), None))
        next_id += 1
        for _ in range(rng.randint(3, 9)):
            role = rng.choices(["sales", "cashier", "stock"], [0.5, 0.3, 0.2])[0]
            employees.append((next_id, store_id, f"{rng.choice(FIRST)} {rng.choice(LAST)}", role,
                              iso(dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 3400))), manager_id))
            next_id += 1
    con.executemany("INSERT INTO employees VALUES (?,?,?,?,?,?)", employees)

    customers = []
    emails = set()
    for customer_id in range(1, 451):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{customer_id}@example.com"
        emails.add(email)
        tier = rng.choices(["none", "silver", "gold"], [0.7, 0.22, 0.08])[0]
        signup = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randint(0, 2500))
        customers.append((customer_id, first, last, email, rng.choice(CUSTOMER_CITIES), iso(signup), tier))
    con.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?)", customers)
    con.executemany("INSERT INTO categories VALUES (?,?)", [(i + 1, c) for i, c in enumerate(CATEGORIES)])

    products = []
    product_id = 1
    for category_id, category in enumerate(CATEGORIES, start=1):
        words, low, high = PRODUCT_WORDS[category]
        for brand in rng.sample(BRANDS, 4):
            for word in rng.sample(words, rng.randint(2, 4)):
                price = round(rng.uniform(low, high), 0) - 0.01
                products.append((product_id, f"{brand} {word}", category_id, brand, price, int(rng.random() < 0.1)))
                product_id += 1
    con.executemany("INSERT INTO products VALUES (?,?,?,?,?,?)", products)

    popularity = [rng.paretovariate(1.3) for _ in products]
    orders, lines = [], []
    for order_id in range(1, 3201):
        customer = rng.choices(customers, [1 + (c[6] == "gold") * 3 + (c[6] == "silver") for c in customers])[0]
        store_id = rng.choices(range(1, len(STORES) + 1), STORE_WEIGHTS)[0]
        # Busier in spring and before winter: sample a month by season weight.
        year = rng.choices([2023, 2024, 2025], [0.25, 0.35, 0.4])[0]
        month = rng.choices(range(1, 13), [4, 3, 5, 7, 8, 7, 7, 6, 5, 6, 9, 12])[0]
        day = dt.date(year, month, rng.randint(1, 28))
        status = rng.choices(["completed", "cancelled", "returned", "pending"], [0.84, 0.07, 0.06, 0.03])[0]
        channel = "online" if store_id == 8 else rng.choices(["in_store", "phone"], [0.9, 0.1])[0]
        orders.append((order_id, customer[0], store_id, iso(day), status, channel))
        for product in {p[0]: p for p in rng.choices(products, popularity, k=rng.choice([1, 1, 1, 2, 2, 3, 4]))}.values():
            discount = rng.choices([0.0, 0.1, 0.15, 0.25], [0.75, 0.12, 0.08, 0.05])[0]
            lines.append((order_id, product[0], rng.choices([1, 2, 3, 4], [0.75, 0.15, 0.06, 0.04])[0], product[4], discount))
    con.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?)", orders)
    con.executemany("INSERT INTO order_items VALUES (?,?,?,?,?)", lines)
    con.commit()
    con.execute("VACUUM")
    con.close()
    tmp.replace(path)


REVENUE = "SUM(oi.quantity * oi.unit_price * (1 - oi.discount))"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def question_families(con: sqlite3.Connection):
    """(phrasings, sql, params) generators: each call picks parameters from the real rows."""
    stores = [r[0] for r in con.execute("SELECT name FROM stores")]
    cities = [r[0] for r in con.execute("SELECT DISTINCT city FROM customers ORDER BY city")]
    categories = [r[0] for r in con.execute("SELECT name FROM categories")]
    brands = [r[0] for r in con.execute("SELECT DISTINCT brand FROM products ORDER BY brand")]
    emails = [r[0] for r in con.execute("SELECT email FROM customers WHERE customer_id IN (SELECT customer_id FROM orders) ORDER BY customer_id")]
    products = [r[0] for r in con.execute("SELECT name FROM products WHERE product_id IN (SELECT product_id FROM order_items) ORDER BY product_id")]
    employees = [r[0] for r in con.execute("SELECT full_name FROM employees WHERE manager_id IS NOT NULL ORDER BY employee_id")]

    def q(s: str) -> str:
        return s.replace("'", "''")

    def count_customers_city(rng):
        city = rng.choice(cities)
        return ([f"How many customers live in {city}?", f"number of customers from {city}",
                 f"count custmers in {city}", f"How many of our customers are based in {city}?"],
                f"SELECT COUNT(*) FROM customers WHERE city = '{q(city)}'")

    def orders_in_month(rng):
        year, month = rng.choice([2023, 2024, 2025]), rng.randint(1, 12)
        return ([f"How many orders were placed in {MONTHS[month - 1]} {year}?",
                 f"orders count for {year}-{month:02d}", f"how many orders did we get in {MONTHS[month - 1][:3]} {year}"],
                f"SELECT COUNT(*) FROM orders WHERE strftime('%Y-%m', order_date) = '{year}-{month:02d}'")

    def store_revenue(rng):
        store, year = rng.choice(stores), rng.choice([2023, 2024, 2025])
        return ([f"What was the revenue of the {store} store in {year}, counting completed orders only?",
                 f"total completed sales for {store} in {year} (after discounts)",
                 f"{store} revenue {year}, completed orders"],
                f"SELECT ROUND({REVENUE}, 2) FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
                f"JOIN stores s ON s.store_id = o.store_id WHERE s.name = '{q(store)}' AND o.status = 'completed' "
                f"AND strftime('%Y', o.order_date) = '{year}'")

    def top_products_category(rng):
        category, n = rng.choice(categories), rng.choice([3, 5])
        return ([f"Top {n} products by units sold in {category}?",
                 f"which {n} {category.lower()} products sold the most units? list name and units",
                 f"best sellers in {category} (top {n}, by quantity)"],
                f"SELECT p.name, SUM(oi.quantity) AS units FROM order_items oi JOIN products p ON p.product_id = oi.product_id "
                f"JOIN categories c ON c.category_id = p.category_id WHERE c.name = '{q(category)}' "
                f"GROUP BY p.product_id ORDER BY units DESC, p.name LIMIT {n}")

    def avg_order_value_channel(rng):
        return (["What is the average order value per sales channel for completed orders?",
                 "avg order value by channel (completed only)", "Average basket size in dollars for each channel, completed orders"],
                f"SELECT channel, ROUND(AVG(total), 2) FROM (SELECT o.order_id, o.channel, {REVENUE} AS total FROM orders o "
                f"JOIN order_items oi ON oi.order_id = o.order_id WHERE o.status = 'completed' GROUP BY o.order_id) GROUP BY channel")

    def brand_under_price(rng):
        brand, price = rng.choice(brands), rng.choice([50, 100, 150, 200])
        return ([f"List the {brand} products that cost less than ${price}.", f"{brand} items under {price} dollars",
                 f"Which products from {brand} have a list price below {price}?"],
                f"SELECT name FROM products WHERE brand = '{q(brand)}' AND list_price < {price}")

    def customers_without_orders(rng):
        return (["How many customers have never placed an order?", "count of customers with zero orders",
                 "number of signed-up customers who never ordered anything"],
                "SELECT COUNT(*) FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)")

    def cancelled_at_store(rng):
        store = rng.choice(stores)
        status = rng.choice(["cancelled", "returned"])
        return ([f"How many {status} orders does {store} have?", f"{status} orders at {store}?",
                 f"number of orders with status {status} for the {store} store"],
                f"SELECT COUNT(*) FROM orders o JOIN stores s ON s.store_id = o.store_id WHERE s.name = '{q(store)}' AND o.status = '{status}'")

    def revenue_by_region(rng):
        year = rng.choice([2023, 2024, 2025])
        return ([f"Completed revenue by region in {year}, highest first", f"which region made the most money in {year}? show all regions",
                 f"revenue per region {year} (completed orders), sorted descending"],
                f"SELECT s.region, ROUND({REVENUE}, 2) AS revenue FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
                f"JOIN stores s ON s.store_id = o.store_id WHERE o.status = 'completed' AND strftime('%Y', o.order_date) = '{year}' "
                f"GROUP BY s.region ORDER BY revenue DESC")

    def best_category_year(rng):
        year = rng.choice([2023, 2024, 2025])
        return ([f"Which category sold the most units in {year}?", f"top category by quantity {year}",
                 f"In {year}, what product category had the highest number of units sold?"],
                f"SELECT c.name FROM order_items oi JOIN orders o ON o.order_id = oi.order_id JOIN products p ON p.product_id = oi.product_id "
                f"JOIN categories c ON c.category_id = p.category_id WHERE strftime('%Y', o.order_date) = '{year}' "
                f"GROUP BY c.category_id ORDER BY SUM(oi.quantity) DESC, c.name LIMIT 1")

    def customers_many_orders(rng):
        k = rng.choice([8, 10, 12])
        return ([f"List customers (first and last name) with more than {k} orders.",
                 f"who ordered more than {k} times? names please", f"customers having > {k} orders"],
                f"SELECT c.first_name, c.last_name FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
                f"GROUP BY c.customer_id HAVING COUNT(*) > {k}")

    def employees_role_store(rng):
        store, role = rng.choice(stores), rng.choice(["sales", "cashier"])
        return ([f"Who works as {role} at {store}?", f"names of {role} staff in the {store} store",
                 f"list {role} employees at {store}"],
                f"SELECT e.full_name FROM employees e JOIN stores s ON s.store_id = e.store_id WHERE s.name = '{q(store)}' AND e.role = '{role}'")

    def manager_of(rng):
        name = rng.choice(employees)
        return ([f"Who is {name}'s manager?", f"manager of {name}", f"Which person does {name} report to?"],
                f"SELECT m.full_name FROM employees e JOIN employees m ON m.employee_id = e.manager_id WHERE e.full_name = '{q(name)}'")

    def priciest_in_category(rng):
        category = rng.choice(categories)
        return ([f"What is the most expensive product in {category}?", f"priciest {category.lower()} item (list price)",
                 f"Highest list price product in the {category} category"],
                f"SELECT p.name, p.list_price FROM products p JOIN categories c ON c.category_id = p.category_id "
                f"WHERE c.name = '{q(category)}' ORDER BY p.list_price DESC LIMIT 1")

    def discontinued_sold(rng):
        return (["Which discontinued products have still been sold at least once?",
                 "discontinued items that appear in orders", "list discontinued products with sales"],
                "SELECT DISTINCT p.name FROM products p JOIN order_items oi ON oi.product_id = p.product_id WHERE p.discontinued = 1")

    def tier_in_city(rng):
        city, tier = rng.choice(cities), rng.choice(["gold", "silver"])
        return ([f"How many {tier}-tier customers are in {city}?", f"{tier} loyalty members living in {city}, count",
                 f"count {tier} customers {city}"],
                f"SELECT COUNT(*) FROM customers WHERE loyalty_tier = '{tier}' AND city = '{q(city)}'")

    def avg_discount_category(rng):
        category = rng.choice(categories)
        return ([f"What is the average discount given on {category} order lines?", f"avg discount for {category}",
                 f"mean discount rate in the {category} category"],
                f"SELECT AVG(oi.discount) FROM order_items oi JOIN products p ON p.product_id = oi.product_id "
                f"JOIN categories c ON c.category_id = p.category_id WHERE c.name = '{q(category)}'")

    def orders_per_status(rng):
        return (["How many orders are there in each status?", "order count by status", "break down orders by status"],
                "SELECT status, COUNT(*) FROM orders GROUP BY status")

    def first_order_of(rng):
        email = rng.choice(emails)
        return ([f"When did the customer with email {email} place their first order?", f"first order date for {email}",
                 f"earliest order by {email}"],
                f"SELECT MIN(o.order_date) FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE c.email = '{q(email)}'")

    def stores_opened_before(rng):
        year = rng.choice([2015, 2016, 2019, 2020])
        return ([f"Which stores opened before {year}?", f"stores opened prior to {year}", f"list stores with an opening date before {year}"],
                f"SELECT name FROM stores WHERE opened_on < '{year}-01-01'")

    def units_product_channel(rng):
        product, channel = rng.choice(products), rng.choice(["online", "in_store"])
        label = "online" if channel == "online" else "in store"
        return ([f"How many units of {product} were sold {label}?", f"{product} units sold {label}",
                 f"total quantity of {product} sold through the {label} channel"],
                f"SELECT COALESCE(SUM(oi.quantity), 0) FROM order_items oi JOIN products p ON p.product_id = oi.product_id "
                f"JOIN orders o ON o.order_id = oi.order_id WHERE p.name = '{q(product)}' AND o.channel = '{channel}'")

    def monthly_revenue(rng):
        year = rng.choice([2023, 2024, 2025])
        return ([f"Show completed revenue per month for {year}, in month order.", f"monthly sales {year} completed orders",
                 f"revenue by month in {year}"],
                f"SELECT strftime('%m', o.order_date) AS month, ROUND({REVENUE}, 2) FROM orders o JOIN order_items oi ON oi.order_id = o.order_id "
                f"WHERE o.status = 'completed' AND strftime('%Y', o.order_date) = '{year}' GROUP BY month ORDER BY month")

    def signup_year_store(rng):
        year, store = rng.choice([2019, 2020, 2021, 2022]), rng.choice(stores)
        return ([f"How many customers who signed up in {year} have ordered from {store}?",
                 f"customers from the {year} signup cohort that bought at {store}, count",
                 f"count distinct {year}-signup customers with an order at {store}"],
                f"SELECT COUNT(DISTINCT c.customer_id) FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
                f"JOIN stores s ON s.store_id = o.store_id WHERE strftime('%Y', c.signup_date) = '{year}' AND s.name = '{q(store)}'")

    def items_per_order_store(rng):
        return (["What is the average number of units per order at each store?", "avg units per order by store",
                 "for every store, the mean quantity of items in an order"],
                "SELECT s.name, ROUND(AVG(units), 2) FROM (SELECT o.order_id, o.store_id, SUM(oi.quantity) AS units FROM orders o "
                "JOIN order_items oi ON oi.order_id = o.order_id GROUP BY o.order_id) t JOIN stores s ON s.store_id = t.store_id GROUP BY s.store_id")

    def online_share(rng):
        year = rng.choice([2023, 2024, 2025])
        return ([f"What share of completed revenue in {year} came from the online channel?",
                 f"online revenue as a fraction of total, {year}, completed orders", f"pct of {year} sales that were online"],
                f"SELECT ROUND(SUM(CASE WHEN o.channel = 'online' THEN oi.quantity * oi.unit_price * (1 - oi.discount) ELSE 0 END) / "
                f"{REVENUE}, 4) FROM orders o JOIN order_items oi ON oi.order_id = o.order_id WHERE o.status = 'completed' "
                f"AND strftime('%Y', o.order_date) = '{year}'")

    def staff_count_by_store(rng):
        return (["How many employees does each store have?", "headcount per store", "number of staff at every store"],
                "SELECT s.name, COUNT(e.employee_id) FROM stores s LEFT JOIN employees e ON e.store_id = s.store_id GROUP BY s.store_id")

    def top_customers_spend(rng):
        n = rng.choice([5, 10])
        return ([f"Who are the top {n} customers by total completed spend? Give their email and amount.",
                 f"top {n} spenders (email, total), completed orders", f"biggest {n} customers by money spent"],
                f"SELECT c.email, ROUND({REVENUE}, 2) AS spend FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
                f"JOIN order_items oi ON oi.order_id = o.order_id WHERE o.status = 'completed' GROUP BY c.customer_id "
                f"ORDER BY spend DESC, c.email LIMIT {n}")

    return [count_customers_city, orders_in_month, store_revenue, top_products_category, avg_order_value_channel,
            brand_under_price, customers_without_orders, cancelled_at_store, revenue_by_region, best_category_year,
            customers_many_orders, employees_role_store, manager_of, priciest_in_category, discontinued_sold,
            tier_in_city, avg_discount_category, orders_per_status, first_order_of, stores_opened_before,
            units_product_channel, monthly_revenue, signup_year_store, items_per_order_store, online_share,
            staff_count_by_store, top_customers_spend]


def messy(question: str, rng: random.Random) -> str:
    """Sometimes lower-case it, drop the question mark or add a polite frame."""
    if rng.random() < 0.2:
        question = question.lower().rstrip("?.")
    if rng.random() < 0.12:
        question = rng.choice(["hey, ", "quick one: ", "Can you tell me ", "pls: "]) + question[0].lower() + question[1:]
    return question


def generate_questions(con: sqlite3.Connection, rng: random.Random, n_questions: int) -> list[dict]:
    """Questions with gold SQL; every gold query must run and return at least one row."""
    families = question_families(con)
    records, seen = [], set()
    attempts = 0
    while len(records) < n_questions:
        attempts += 1
        if attempts > n_questions * 50:
            raise RuntimeError("could not draw enough distinct questions")
        family = rng.choice(families)
        phrasings, sql = family(rng)
        position = rng.randrange(len(phrasings))
        question = messy(phrasings[position], rng)
        if question in seen:
            continue
        rows = con.execute(sql).fetchall()
        if not rows or rows == [(None,)]:
            continue
        seen.add(question)
        # The last phrasing of every family is held out: the eval asks in words no student trained on.
        held_out = position == len(phrasings) - 1
        split = "test" if held_out or rng.random() < TEST_FRACTION_SEEN else "train"
        records.append({"id": f"sql-{len(records):04d}", "question": question, "gold_sql": sql,
                        "family": family.__name__, "split": split})
    return records


def main() -> None:
    rng = random.Random(SEED)
    db_path = HERE / "shop.sqlite"
    build_database(db_path, rng)
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    records = generate_questions(con, rng, N_QUESTIONS)
    con.close()
    out = HERE / "data.jsonl"
    tmp = out.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    print(f"wrote {db_path} and {len(records)} questions to {out}")


if __name__ == "__main__":
    main()
