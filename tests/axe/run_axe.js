// axe-core on each page given (file paths), in Debian's chromium through puppeteer-core.
// Prints one JSON line: {"<page>": [{"id", "impact", "help", "nodes": [...]}, ...], ...}.
// Usage: node run_axe.js CHROMIUM page.html [page.html ...]
const path = require("path");
const puppeteer = require("puppeteer-core");
const axeSource = require("axe-core").source;

(async () => {
  const [chromium, ...pages] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
  const out = {};
  try {
    for (const page of pages) {
      const tab = await browser.newPage();
      await tab.setViewport({ width: 1200, height: 900 });
      await tab.goto("file://" + path.resolve(page), { waitUntil: "load" });
      await tab.addScriptTag({ content: axeSource });
      // WCAG 2.1 A and AA, plus axe's best practices.
      const res = await tab.evaluate(async () =>
        await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }));
      out[page] = res.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }));
      await tab.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch(e => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(2); });
