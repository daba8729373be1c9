#!/usr/bin/python3
"""Drives headless Chromium (chromium-driver, Selenium) over vigil's
dashboard: every page loads, shows what a user needs, logs no console error,
runs no payload, and is saved as a screenshot.

    serve_browser.py BASE_URL EXPECT_JSON SHOTS_DIR

BASE_URL is http://127.0.0.1:PORT (vigil serve) or file:///DIR (an export);
EXPECT_JSON says what the store holds (run ids, test names). Prints ok:/FAIL:
lines; exits 1 when a check failed."""
import json
import os
import sys
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

base, expect_path, shots = sys.argv[1], sys.argv[2], sys.argv[3]
expect = json.load(open(expect_path))
files = base.startswith("file://")
os.makedirs(shots, exist_ok=True)
fails = 0


def ok(cond, what):
    global fails
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        fails += 1


opts = Options()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
          "--allow-file-access-from-files"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(60)


def url(server_path, file_path):
    return base + (file_path if files else server_path)


def visit(name, server_path, file_path=None):
    """Loads a page (server_path alone: a whole URL), checks the title, the
    console and the payloads, saves a screenshot."""
    driver.get(server_path if file_path is None else url(server_path, file_path))
    title = driver.title
    ok(title.endswith("· vigil"), f"{name}: loads ({title!r})")
    ok("pwned" not in title, f"{name}: no payload changed the title")
    # A payload that ran would have left an element: the pages have no <img>
    # and no inline script at all.
    imgs = driver.find_elements(By.TAG_NAME, "img")
    ok(len(imgs) == 0, f"{name}: no injected <img> ({len(imgs)})")
    inline = driver.execute_script(
        "return Array.from(document.scripts).filter(s => !s.src).length")
    ok(inline == 0, f"{name}: no inline <script> ({inline})")
    ok(driver.execute_script("return window.pwned === undefined"), f"{name}: no payload ran")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    ok(not errors, f"{name}: no console error {errors[:3]}")
    driver.save_screenshot(os.path.join(shots, f"{'export-' if files else ''}{name}.png"))
    return driver.page_source


# 1. Runs.
src = visit("runs", "/", "/index.html")
for rid in expect["runs"]:
    ok(driver.find_elements(By.XPATH, f"//table[contains(@class,'runs')]//td/a[text()='{rid}']") != [],
       f"runs: run {rid} listed")
ok(len(driver.find_elements(By.CSS_SELECTOR, "svg.chart circle")) >= 1, "runs: the pass-rate trend is drawn")
if not files:
    # Sorting by a column (the script) reorders the rows.
    first = driver.find_element(By.CSS_SELECTOR, "table.runs tbody tr td").text
    driver.find_element(By.XPATH, "//table[contains(@class,'runs')]//th[text()='Run']").click()
    after = driver.find_element(By.CSS_SELECTOR, "table.runs tbody tr td").text
    ok(first != after, f"runs: sorting by run reorders ({first} -> {after})")

# 2. A run with a failing subtest: expand it, the subtest is visible.
rid = expect["failing_run"]
visit("run", f"/runs/{rid}", f"/runs/{rid}.html")
ok(driver.find_elements(By.CSS_SELECTOR, "section.verdict") != [], "run: the verdict comes first")
sub = expect["failing_subtest"]
test = expect["failing_test"]
links = driver.find_elements(By.XPATH, f"//details//table[contains(@class,'subtests')]//a[text()='{sub}']")
ok(links != [], f"run: subtest {sub} is on the page")
def visible(el):
    # Chromium folds a closed <details> with content-visibility, which
    # is_displayed() does not see: ask the element itself.
    return driver.execute_script("return arguments[0].checkVisibility({contentVisibilityAuto: true})", el)


if links:
    ok(not visible(links[0]), "run: subtests are folded until expanded")
    summary = driver.find_element(By.XPATH, f"//details[.//span[@class='path' and text()='{test}']]/summary")
    summary.click()
    ok(visible(links[0]), f"run: {sub} visible after expanding {test}")
    row = links[0].find_element(By.XPATH, "./ancestor::tr")
    ok("FAIL" in row.text, f"run: {sub} shows FAIL ({row.text!r})")
driver.save_screenshot(os.path.join(shots, f"{'export-' if files else ''}run-expanded.png"))
# The hostile test's page shows its name as text.
xss_run = expect["xss_run"]
visit("run-xss", f"/runs/{xss_run}", f"/runs/{xss_run}.html")
ok(expect["xss_name"] in driver.find_element(By.TAG_NAME, "main").text, "run-xss: the hostile name shows as text")

# 3. The history matrix of the flaky test: a lettered cell.
flaky = expect["flaky_test"]
driver.get(url(f"/runs/{expect['flaky_run']}", f"/runs/{expect['flaky_run']}.html"))
hist = driver.find_element(By.XPATH, f"//a[text()='history of {flaky}']").get_attribute("href")
visit("history", hist)
cells = driver.find_elements(By.CSS_SELECTOR, "table.matrix td.st-FLAKY")
ok(cells != [], "history: the flaky cell is colored")
ok(cells != [] and cells[0].text == "K" and "FLAKY" in cells[0].get_attribute("title"),
   "history: the flaky cell says K and FLAKY, not color alone")

# 4. Flakes.
visit("flakes", "/flakes", "/flakes.html")
# 5. Crashes: the title and its count.
visit("crashes", "/crashes", "/crashes.html")
main = driver.find_element(By.TAG_NAME, "main").text
ok(expect["crash_title"] in main, f"crashes: {expect['crash_title']!r} listed")
ok(f"×{expect['crash_count']} in" in main, f"crashes: counted {expect['crash_count']} times")
# 6. Builds and series (none yet: the pages say so).
visit("builds", "/builds", "/builds.html")
visit("series", "/series", "/series.html")
ok("No series yet" in driver.find_element(By.TAG_NAME, "main").text, "series: says there is nothing yet")
# 7. Compare.
a, b = expect["compare"]
if files:
    driver.get(url("", f"/runs/{b}.html"))
    cmp = driver.find_elements(By.XPATH, "//a[text()='compare']")
    ok(cmp != [], "export: the run links its comparison")
    if cmp:
        visit("compare", cmp[0].get_attribute("href"))
else:
    visit("compare", f"/compare?a={a}&b={b}", "")
    ok(expect["failing_test"] in driver.find_element(By.TAG_NAME, "main").text, "compare: names the new failure")

if not files:
    # Errors are pages.
    for path, code in (("/runs/999999", 404), ("/runs?page=0", 400), ("/nope", 404)):
        driver.get(base + path)
        ok(driver.title.startswith("Not found" if code == 404 else "Bad request"), f"{path}: an error page")

driver.quit()
print(f"{fails} browser check(s) failed")
sys.exit(1 if fails else 0)
