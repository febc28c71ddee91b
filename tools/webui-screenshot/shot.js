// Usage: node shot.js URL OUT.png ["Tab text|Button text"]
// Opens URL in headless Chromium (Debian's /usr/bin/chromium or $CHROMIUM), clicks the given
// texts in order, and saves a 1440x1100 screenshot. Made for the Temporal Web UI (docs/*.png).
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(process.argv[2], { waitUntil: 'load', timeout: 30000 });
  await page.waitForTimeout(5000);
  if (process.argv[4]) {
    for (const t of process.argv[4].split('|')) {
      try { await page.getByText(t, { exact: false }).first().click({ timeout: 5000 }); await page.waitForTimeout(2000); } catch (e) { console.error('no', t); }
    }
  }
  await page.screenshot({ path: process.argv[3], fullPage: false });
  await browser.close();
})();
