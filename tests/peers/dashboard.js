// Drives the dashboard of `spaces-events serve` in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core): prints one JSON line per milestone, for the test to act on.
//   node dashboard.js URL SCREENSHOT.png
// ready   the page shows the space, no meeting yet (the test then plays a meeting)
// joined  "Ann Lee" and "Bob (guest)" appeared, then a recording and their media (a
//         screenshot is taken)
// left    the meeting ended and the attendees are gone
// checks  the filter (by its label) and the phone width
const { chromium } = require("playwright-core");

const say = (what, extra = {}) => console.log(JSON.stringify({ what, ...extra }));

(async () => {
  const [url, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
    await page.goto(url);
    await page.getByText("No meeting").first().waitFor({ timeout: 30000 });
    await page.getByText("Live").waitFor({ timeout: 30000 });
    say("ready");
    await page.getByText("Ann Lee").waitFor({ timeout: 30000 });
    await page.getByText("Bob (guest)").waitFor({ timeout: 30000 });
    // The picture once the recording runs and the media are known.
    await page.getByText(/: started$/).waitFor({ timeout: 30000 });
    await page.getByText(/audio, video/).first().waitFor({ timeout: 30000 });
    await page.screenshot({ path: screenshot });
    say("joined", { status: await page.locator(".status").first().textContent() });
    // The filter, found by its label: an attendee's name keeps the space, nonsense hides it.
    const filter = page.getByLabel("Filter spaces");
    await filter.fill("Bob (guest)");
    await page.getByText("Ann Lee").waitFor({ timeout: 5000 });
    await filter.fill("nobody-by-this-name");
    await page.getByText("No space matches.").waitFor({ timeout: 5000 });
    await filter.fill("");
    // A phone's width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    say("checks", { overflow });
    await page.getByText("Meeting ended").first().waitFor({ timeout: 60000 });
    await page.getByText("Ann Lee").waitFor({ state: "detached", timeout: 30000 });
    say("left");
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
